//! The deduplication cache (RFC 7252 §4.5).
//!
//! Every CON and NON message that carries a request or a response is
//! recorded here, keyed by sender endpoint and Message ID, for
//! EXCHANGE_LIFETIME (247 s). A later message with the same key is a
//! duplicate and is answered from the entry instead of being handled again.
//!
//! Entries are 16 bytes and hold no response bytes. What an entry replays
//! is a compact *summary* from which the engine rebuilds the same reply:
//!
//! - the answer to a GET (including `/.well-known/core`) is regenerated
//!   from the current state: GET is safe, so this never applies anything
//!   twice (RFC 7252 §4.5 allows relaxing deduplication for idempotent
//!   requests), and the reply's size does not limit the cache;
//! - every other reply of our server is fully determined by its code plus
//!   an ETag (2.04) or a Size1 (4.13), with the diagnostic payload following
//!   from the code, so the entry stores exactly that; the answer to a
//!   Block1 block is its code (2.31 or 2.04), the 2.04's ETag, and the
//!   Block1 it echoed, which the duplicate carries itself;
//! - an ACK or RST that we sent for a response to our own requests is
//!   re-sent as is; a request that got no reply (a NON one, or an error
//!   suppressed for multicast) stays unanswered.
//!
//! So a duplicate never re-applies a PUT, POST or DELETE while its entry
//! lives, and no entry ever loses its reply.
//!
//! An entry also remembers whether its message arrived on the multicast
//! socket. Where the server's socket is bound to 0.0.0.0, one datagram sent
//! to the group reaches both sockets; the copy that arrives on the other
//! socket than the entry's is that second copy, not a retransmission (a
//! retransmission goes to the same address as the original), so it replays
//! nothing: one answer per request.
//!
//! The cache is two rings: one of [`DEDUP_ENTRIES`] for CON messages, one of
//! [`DEDUP_NON_ENTRIES`] for NON messages. Each ring, when full, overwrites
//! its own oldest entry, so NON traffic (which needs no reply and may come
//! at any rate) never evicts the entry of a CON exchange, whose duplicate
//! must get the same reply and must not be applied twice. A duplicate
//! arriving after its entry was evicted is handled again (counted in
//! [`Dedup::evicted_live`]).

use super::params::EXCHANGE_LIFETIME_MS;
use super::{Endpoint, Instant};
use crate::capacity::{DEDUP_ENTRIES, DEDUP_NON_ENTRIES};

/// [`Dedup::expire`] sweeps at most this often (ms). The sweep only keeps
/// expired entries from coming back to life when the clock wraps; every
/// lookup checks an entry's age anyway, so sweeping on every datagram
/// bought nothing.
const SWEEP_INTERVAL_MS: i32 = 1000;

/// What to send when a duplicate arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Nothing (NON messages; suppressed replies).
    Nothing,
    /// Run the GET again and send its answer.
    RegenerateGet,
    /// A piggybacked response: this code plus, for 2.04 an ETag (if
    /// `extra` != 0) and for 4.13 a Size1 of `extra`.
    Response { code: u8, extra: u16 },
    /// A piggybacked 2.31 or 2.04 to a Block1 request: this code, the
    /// 2.04's ETag (0: none), and the Block1 the request carries (a
    /// duplicate carries the same, so it is not stored).
    Block1 { code: u8, etag: u16 },
    /// An empty ACK (we acknowledged a CON response).
    EmptyAck,
    /// An RST (a CON response that matched none of our requests).
    Reset,
}

const KIND_UNUSED: u8 = 0;
const KIND_NOTHING: u8 = 1;
const KIND_GET: u8 = 2;
const KIND_RESPONSE: u8 = 3;
const KIND_ACK: u8 = 4;
const KIND_RST: u8 = 5;
const KIND_BLOCK1: u8 = 6;
/// Or-ed into `kind`: the message arrived on the multicast socket.
const VIA_MULTICAST: u8 = 0x80;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    addr: [u8; 4],
    port: u16,
    mid: u16,
    at: u32,
    kind: u8,
    code: u8,
    extra: u16,
}

impl Entry {
    fn replay(&self) -> Replay {
        match self.kind & !VIA_MULTICAST {
            KIND_GET => Replay::RegenerateGet,
            KIND_RESPONSE => Replay::Response { code: self.code, extra: self.extra },
            KIND_ACK => Replay::EmptyAck,
            KIND_RST => Replay::Reset,
            KIND_BLOCK1 => Replay::Block1 { code: self.code, etag: self.extra },
            _ => Replay::Nothing,
        }
    }

    fn is_live(&self, now: Instant) -> bool {
        self.kind != KIND_UNUSED && now.ms_since(Instant(self.at)) < EXCHANGE_LIFETIME_MS
    }
}

/// Entries compared per step of [`find_in`]'s scan.
const SCAN_CHUNK: usize = 8;
const _: () = assert!(DEDUP_ENTRIES % SCAN_CHUNK == 0 && DEDUP_NON_ENTRIES % SCAN_CHUNK == 0);

/// The live entry of `ring` for a key. Every datagram scans both rings and
/// almost always finds nothing, so the scan compares only Message IDs,
/// [`SCAN_CHUNK`] entries per step written out (a loop over one entry at a
/// time costs more than twice as many instructions on RV32); the rest of
/// the key and the age are checked where a Message ID matches.
fn find_in(ring: &[Entry], now: Instant, from: Endpoint, mid: u16) -> Option<&Entry> {
    let is_key = |e: &Entry| e.mid == mid && e.port == from.port && e.addr == from.addr && e.is_live(now);
    for chunk in ring.chunks_exact(SCAN_CHUNK) {
        if let [a, b, c, d, e, f, g, h] = chunk {
            let any = a.mid == mid
                || b.mid == mid
                || c.mid == mid
                || d.mid == mid
                || e.mid == mid
                || f.mid == mid
                || g.mid == mid
                || h.mid == mid;
            if any {
                if let Some(hit) = chunk.iter().find(|e| is_key(e)) {
                    return Some(hit);
                }
            }
        }
    }
    None
}

/// A ring of [`DEDUP_ENTRIES`] CON entries and one of [`DEDUP_NON_ENTRIES`]
/// NON entries.
pub(crate) struct Dedup {
    con: [Entry; DEDUP_ENTRIES],
    non: [Entry; DEDUP_NON_ENTRIES],
    /// Where the next CON entry goes: the oldest one once the ring is full.
    con_next: u8,
    /// Where the next NON entry goes.
    non_next: u8,
    /// Live entries overwritten before they expired (saturating).
    evicted_live: u32,
    /// When [`Dedup::expire`] last swept.
    last_sweep: u32,
}

impl Dedup {
    /// The live entry for a key, in either ring (a Message ID is the
    /// sender's for CON and NON alike).
    fn find(&self, now: Instant, from: Endpoint, mid: u16) -> Option<&Entry> {
        find_in(&self.con, now, from, mid).or_else(|| find_in(&self.non, now, from, mid))
    }

    /// `Some(replay)` if `(from, mid)` was seen within EXCHANGE_LIFETIME;
    /// [`Replay::Nothing`] if it was seen on the other socket
    /// (`via_multicast` differs): the second copy of one datagram.
    pub(crate) fn lookup(&self, now: Instant, from: Endpoint, mid: u16, via_multicast: bool) -> Option<Replay> {
        let e = self.find(now, from, mid)?;
        let same_socket = (e.kind & VIA_MULTICAST != 0) == via_multicast;
        Some(if same_socket { e.replay() } else { Replay::Nothing })
    }

    /// Records `(from, mid)` of a CON (`con`) or NON message and the socket
    /// it arrived on; overwrites the oldest entry of that message type's ring
    /// when it is full.
    ///
    /// Callers insert only a key that [`Dedup::lookup`] has just found no
    /// live entry for (both do: a hit is answered from the entry and never
    /// inserted), so there is no second search here.
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        from: Endpoint,
        mid: u16,
        con: bool,
        via_multicast: bool,
        replay: Replay,
    ) {
        let (kind, code, extra) = match replay {
            Replay::Nothing => (KIND_NOTHING, 0, 0),
            Replay::RegenerateGet => (KIND_GET, 0, 0),
            Replay::Response { code, extra } => (KIND_RESPONSE, code, extra),
            Replay::EmptyAck => (KIND_ACK, 0, 0),
            Replay::Reset => (KIND_RST, 0, 0),
            Replay::Block1 { code, etag } => (KIND_BLOCK1, code, etag),
        };
        let kind = if via_multicast { kind | VIA_MULTICAST } else { kind };
        let entry = Entry { addr: from.addr, port: from.port, mid, at: now.0, kind, code, extra };
        let (ring, next): (&mut [Entry], &mut u8) =
            if con { (&mut self.con, &mut self.con_next) } else { (&mut self.non, &mut self.non_next) };
        let i = usize::from(*next) % ring.len();
        if let Some(slot) = ring.get_mut(i) {
            if slot.is_live(now) {
                self.evicted_live = self.evicted_live.saturating_add(1);
            }
            *slot = entry;
        }
        *next = ((i + 1) % ring.len()) as u8;
    }

    /// Frees entries older than EXCHANGE_LIFETIME, so that an entry cannot
    /// come back to life when the 32-bit clock wraps (as long as the engine
    /// sees the clock at least every 24 days). Does nothing within
    /// [`SWEEP_INTERVAL_MS`] after the last sweep; a clock reading before
    /// the last sweep (a wrap of more than 2^31 ms) sweeps.
    pub(crate) fn expire(&mut self, now: Instant) {
        let since = Instant(self.last_sweep).ms_until(now);
        if (0..SWEEP_INTERVAL_MS).contains(&since) {
            return;
        }
        self.last_sweep = now.0;
        for e in self.con.iter_mut().chain(self.non.iter_mut()) {
            if !e.is_live(now) {
                e.kind = KIND_UNUSED;
            }
        }
    }

    /// Live entries that were overwritten before they expired.
    pub(crate) fn evicted_live(&self) -> u32 {
        self.evicted_live
    }

    /// Copies of the used entries, CON ring then NON ring (see
    /// `snapshot.rs`).
    #[cfg(any(test, feature = "std"))]
    pub(crate) fn states(&self) -> std::vec::Vec<super::snapshot::DedupState> {
        self.con
            .iter()
            .chain(self.non.iter())
            .filter(|e| e.kind != KIND_UNUSED)
            .map(|e| super::snapshot::DedupState {
                peer: Endpoint { addr: e.addr, port: e.port },
                mid: e.mid,
                at: e.at,
                kind: e.kind,
                code: e.code,
                extra: e.extra,
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, clippy::type_complexity)]
mod tests {
    use super::*;

    fn empty() -> Dedup {
        Dedup {
            con: [Entry::default(); DEDUP_ENTRIES],
            non: [Entry::default(); DEDUP_NON_ENTRIES],
            con_next: 0,
            non_next: 0,
            evicted_live: 0,
            last_sweep: 0,
        }
    }

    const A: Endpoint = Endpoint { addr: [10, 0, 0, 1], port: 5683 };
    const B: Endpoint = Endpoint { addr: [10, 0, 0, 1], port: 5684 };

    #[test]
    fn keyed_by_endpoint_and_mid() {
        let mut d = empty();
        let r = Replay::Response { code: 0x44, extra: 3 };
        d.insert(Instant(0), A, 7, true, false, r);
        assert_eq!(d.lookup(Instant(1), A, 7, false), Some(r));
        assert_eq!(d.lookup(Instant(1), B, 7, false), None);
        assert_eq!(d.lookup(Instant(1), A, 8, false), None);
    }

    #[test]
    fn expires_after_exchange_lifetime_across_the_wrap() {
        let mut d = empty();
        let t0 = Instant(u32::MAX - 1000);
        d.insert(t0, A, 1, true, false, Replay::EmptyAck);
        assert_eq!(d.lookup(t0.add_ms(EXCHANGE_LIFETIME_MS - 1), A, 1, false), Some(Replay::EmptyAck));
        assert_eq!(d.lookup(t0.add_ms(EXCHANGE_LIFETIME_MS), A, 1, false), None);
        d.expire(t0.add_ms(EXCHANGE_LIFETIME_MS));
        // Once expired and swept, a clock that wraps all the way round
        // does not bring it back.
        assert_eq!(d.lookup(t0.add_ms(1), A, 1, false), None);
    }

    #[test]
    fn evicts_oldest_when_full() {
        let mut d = empty();
        for mid in 0..DEDUP_ENTRIES as u16 {
            d.insert(Instant(u32::from(mid)), A, mid, true, false, Replay::Nothing);
        }
        assert_eq!(d.evicted_live(), 0);
        d.insert(Instant(100), A, 1000, true, false, Replay::Reset);
        assert_eq!(d.evicted_live(), 1);
        assert_eq!(d.lookup(Instant(101), A, 0, false), None, "oldest evicted");
        assert_eq!(d.lookup(Instant(101), A, 1, false), Some(Replay::Nothing));
        assert_eq!(d.lookup(Instant(101), A, 1000, false), Some(Replay::Reset));
        // Expired entries are overwritten without counting as evictions.
        d.insert(Instant(100 + EXCHANGE_LIFETIME_MS), A, 1001, true, false, Replay::Nothing);
        assert_eq!(d.evicted_live(), 1);
        assert_eq!(core::mem::size_of::<Entry>(), 16);
    }

    #[test]
    fn the_other_socket_replays_nothing() {
        let mut d = empty();
        let r = Replay::Response { code: 0x44, extra: 3 };
        d.insert(Instant(0), A, 7, true, true, r);
        d.insert(Instant(0), A, 8, true, false, Replay::RegenerateGet);
        assert_eq!(d.lookup(Instant(1), A, 7, true), Some(r));
        assert_eq!(d.lookup(Instant(1), A, 7, false), Some(Replay::Nothing));
        assert_eq!(d.lookup(Instant(1), A, 8, false), Some(Replay::RegenerateGet));
        assert_eq!(d.lookup(Instant(1), A, 8, true), Some(Replay::Nothing));
    }

    #[test]
    fn non_traffic_never_evicts_a_con_entry() {
        let mut d = empty();
        let put = Replay::Response { code: 0x44, extra: 9 };
        d.insert(Instant(0), A, 1, true, false, put);
        // Far more NON messages than either ring holds, from another peer.
        for mid in 0..(4 * (DEDUP_ENTRIES + DEDUP_NON_ENTRIES)) as u16 {
            d.insert(Instant(1), B, mid, false, false, Replay::Nothing);
        }
        assert_eq!(d.lookup(Instant(2), A, 1, false), Some(put), "the CON entry survives");
        // The NON ring kept its newest entries and evicted its oldest ones.
        let last = (4 * (DEDUP_ENTRIES + DEDUP_NON_ENTRIES) - 1) as u16;
        assert_eq!(d.lookup(Instant(2), B, last, false), Some(Replay::Nothing));
        assert_eq!(d.lookup(Instant(2), B, 0, false), None);
        let non_evicted = 4 * (DEDUP_ENTRIES + DEDUP_NON_ENTRIES) - DEDUP_NON_ENTRIES;
        assert_eq!(d.evicted_live() as usize, non_evicted);
    }

    #[test]
    fn con_traffic_evicts_only_the_oldest_con_entry() {
        let mut d = empty();
        d.insert(Instant(0), B, 500, false, false, Replay::Nothing);
        for mid in 0..=DEDUP_ENTRIES as u16 {
            d.insert(Instant(u32::from(mid)), A, mid, true, false, Replay::EmptyAck);
        }
        assert_eq!(d.evicted_live(), 1);
        assert_eq!(d.lookup(Instant(100), A, 0, false), None, "oldest CON evicted");
        assert_eq!(d.lookup(Instant(100), A, 1, false), Some(Replay::EmptyAck));
        assert_eq!(d.lookup(Instant(100), B, 500, false), Some(Replay::Nothing), "NON entry kept");
    }

    #[test]
    fn both_rings_expire() {
        let mut d = empty();
        d.insert(Instant(0), A, 1, true, false, Replay::EmptyAck);
        d.insert(Instant(0), A, 2, false, false, Replay::Nothing);
        let later = Instant(0).add_ms(EXCHANGE_LIFETIME_MS);
        assert_eq!(d.lookup(later, A, 1, false), None);
        assert_eq!(d.lookup(later, A, 2, false), None);
        d.expire(later);
        assert_eq!(d.con.iter().chain(d.non.iter()).filter(|e| e.kind != KIND_UNUSED).count(), 0);
        // Expired entries are overwritten without counting as evictions.
        for mid in 0..DEDUP_ENTRIES as u16 {
            d.insert(later, B, mid, true, false, Replay::EmptyAck);
        }
        for mid in 0..DEDUP_NON_ENTRIES as u16 {
            d.insert(later, B, 1000 + mid, false, false, Replay::Nothing);
        }
        assert_eq!(d.evicted_live(), 0);
    }

    #[test]
    fn the_scan_finds_a_key_at_every_position_of_both_rings() {
        // Each slot of each ring holds the key once, with entries of the
        // same Message ID but another endpoint, or expired, around it in
        // the same step of the scan: only the live entry of the key counts.
        const NOW: u32 = 1_000_000;
        let live = Replay::Response { code: 0x44, extra: 1 };
        for con in [true, false] {
            let len = if con { DEDUP_ENTRIES } else { DEDUP_NON_ENTRIES };
            for at in 0..len {
                let mut d = empty();
                for i in 0..len {
                    let (from, mid, time) = match i {
                        _ if i == at => (A, 7, NOW),
                        _ if i % 3 == 0 => (B, 7, NOW),                              // other endpoint
                        _ if i % 3 == 1 => (A, 7, NOW - EXCHANGE_LIFETIME_MS),        // expired
                        _ => (A, 8 + i as u16, NOW),                                 // other MID
                    };
                    let replay = if i == at { live } else { Replay::EmptyAck };
                    d.insert(Instant(time), from, mid, con, false, replay);
                }
                // The other ring is full of other Message IDs.
                let other = if con { DEDUP_NON_ENTRIES } else { DEDUP_ENTRIES };
                for i in 0..other {
                    d.insert(Instant(NOW), A, 1000 + i as u16, !con, false, Replay::Nothing);
                }
                assert_eq!(d.lookup(Instant(NOW), A, 7, false), Some(live), "con {con}, slot {at}");
                assert_eq!(d.lookup(Instant(NOW), A, 6, false), None);
                // Slots 0, 3 and 6 (all but `at`) hold B's entry.
                assert_eq!(d.lookup(Instant(NOW), B, 7, false), Some(Replay::EmptyAck));
            }
        }
    }

    #[test]
    fn sweeps_at_most_once_per_interval() {
        let mut d = empty();
        let t0 = Instant(5000);
        d.insert(t0, A, 1, true, false, Replay::EmptyAck);
        d.expire(t0);
        let expired = t0.add_ms(EXCHANGE_LIFETIME_MS);
        let live = |d: &Dedup| d.con.iter().chain(d.non.iter()).filter(|e| e.kind != KIND_UNUSED).count();
        // Within the interval after a sweep: no sweep, but the lookup
        // already treats the entry as gone.
        d.last_sweep = expired.0.wrapping_sub(SWEEP_INTERVAL_MS as u32 - 1);
        d.expire(expired);
        assert_eq!((live(&d), d.lookup(expired, A, 1, false)), (1, None));
        // Once the interval has passed, it is freed.
        d.expire(expired.add_ms(1));
        assert_eq!(live(&d), 0);
        // A clock before the last sweep (wrapped) sweeps at once.
        d.insert(t0, A, 2, true, false, Replay::EmptyAck);
        d.last_sweep = expired.add_ms(10).0;
        d.expire(expired);
        assert_eq!(live(&d), 0);
    }
}

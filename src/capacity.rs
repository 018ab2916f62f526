//! Every capacity and limit of the engine, in one place.
//!
//! What the application adds (resources, values, attributes, sessions,
//! requests) has no capacity here: it lives in storage the caller grants
//! on demand (`engine/store.rs`), bounded only by the heap, and what peers
//! can make the engine hold is bounded by the remote budget
//! ([`REMOTE_BUDGET`] by default). What stays fixed is the datagram size
//! and the deduplication cache, which is a cache: when one of its two rings
//! (CON, NON) is full it evicts that ring's oldest entry (see
//! `docs/engine.md`). The whole [`Engine`](crate::engine::Engine) stays
//! within [`ENGINE_BUDGET`] bytes (checked at compile time below).
//!
//! `mod/mpcoap.h` repeats [`MESSAGE_MAX`] for the C shim's buffer; a test
//! below reads the header and fails if they disagree. Nothing else is
//! repeated: messages that name a capacity get it from
//! `mpcoap_status_arg()`.
//!
//! ```
//! use mpcoap::capacity::*;
//! // A GET response carrying a value of up to SINGLE_VALUE_MAX bytes fits
//! // one message; larger values are served block-wise.
//! assert_eq!(SINGLE_VALUE_MAX + GET_RESPONSE_OVERHEAD_MAX, MESSAGE_MAX);
//! assert_eq!(VALUE_MAX % (16 << BLOCK_SZX), 0);
//! assert!(core::mem::size_of::<mpcoap::engine::Engine>() <= ENGINE_BUDGET);
//! ```

/// Largest datagram the engine reads or writes, both ways (bytes). The same
/// as libcoap's default session MTU, which Pycom's firmware used.
pub const MESSAGE_MAX: usize = 1152;

/// Worst case of everything but the value in a GET response (bytes):
///
/// | part | bytes |
/// |---|---|
/// | header | 4 |
/// | token (at most 8 bytes) | 8 |
/// | ETag (option 4: 1 header byte, 2-byte counter) | 3 |
/// | Content-Format (option 12: delta 8, 1 header byte, up to 2 bytes) | 3 |
/// | Max-Age (option 14: delta 2, 1 header byte, up to 4 bytes) | 5 |
/// | payload marker | 1 |
/// | **total** | **24** |
pub const GET_RESPONSE_OVERHEAD_MAX: usize = 4 + 8 + 3 + 3 + 5 + 1;

/// Largest value a GET response carries whole: with any token and the
/// options of a resource it fits one message. A larger value (and a
/// discovery document that does not fit one message) is served with Block2.
pub const SINGLE_VALUE_MAX: usize = MESSAGE_MAX - GET_RESPONSE_OVERHEAD_MAX;

/// Largest value a resource can hold (bytes, `Coap.VALUE_MAX`): 16 KiB.
/// Larger values are refused (`Error::ValueTooLarge`); a PUT/POST whose
/// payload (whole, or reassembled from Block1 blocks) is larger gets 4.13
/// with Size1. A value is one block of its size, so this is also the
/// largest block the engine asks for.
pub const VALUE_MAX: usize = 16 * 1024;

/// Block size exponent (RFC 7959 §2.2: `16 << SZX` bytes) of the Block2
/// answers the server sends when the client asks for no smaller block,
/// and the largest Block1 block it accepts without asking for smaller
/// ones: 6, 1024 bytes, the largest size RFC 7959 defines for UDP.
pub const BLOCK_SZX: u8 = 6;

/// Block1 transfers (PUT/POST reassembled from blocks) the server holds at
/// once, from all peers together. One more is answered 5.03 with Max-Age
/// [`RETRY_AFTER_S`]. Their bytes also count against the remote budget.
pub const TRANSFERS_MAX: usize = 4;

/// A Block1 transfer that received no block for this long (ms) is dropped
/// and its storage given back; a later block of it gets 4.08. Longer than
/// a CON's whole retransmission span (about 45 s at the shipped
/// ACK_TIMEOUT), so a lossy link does not lose a transfer in progress.
pub const TRANSFER_LIFETIME_MS: u32 = 60_000;

/// A value is rewritten in place when its block is at most this many bytes
/// larger than a new block for it would be; otherwise it gets a block of
/// its size and the old one is given back (so `"on"`/`"off"` never
/// allocate, and storing 10 bytes over 1000 gives the memory back).
pub const SHRINK_SLACK: usize = 32;

/// Observe (RFC 7641 §4.5): at most this many NON notifications in a row
/// to one observer; the next one is CON.
pub const OBSERVE_NON_MAX: u8 = 5;

/// Observe (RFC 7641 §4.5): a notification is CON when the last CON to
/// that observer is this old (24 hours).
pub const OBSERVE_CON_EVERY_MS: u32 = 24 * 60 * 60 * 1000;

/// Default remote budget (bytes, `Coap.REMOTE_BUDGET`): what remote peers
/// may make the engine hold together, counted as the value bytes PUT/POST
/// stored beyond what the application stored last in each resource. Over
/// it, a PUT/POST gets 4.13 with Size1. 8 KiB is about 7% of the heap of
/// an ESP32 without PSRAM (56 KiB that may grow once to about 112 KiB).
/// `init(remote_budget=...)` sets another.
pub const REMOTE_BUDGET: u32 = 8192;

/// Max-Age (seconds) of the 5.03 that a PUT/POST gets when the heap cannot
/// supply the storage its value needs.
pub const RETRY_AFTER_S: u32 = 5;

/// Entries of the deduplication cache (RFC 7252 §4.5), 16 bytes each. Sized
/// by RAM: at a steady rate of more than `DEDUP_ENTRIES` messages per
/// EXCHANGE_LIFETIME (247 s), i.e. one every 3.9 s, entries are evicted
/// before they expire, and a duplicate arriving after its entry was evicted
/// is handled again. Retransmissions come within about 45 s of the original
/// (ACK_TIMEOUT × 1.5 × (2^4 − 1)), so 64 entries catch every duplicate up
/// to about 1.4 new messages per second from all peers together; 32 were
/// too few for the lossy-link test (200 PUTs over four sessions at 1.3 per
/// second, 25% loss) to apply each PUT exactly once every time.
/// CON messages only: NON messages have their own ring of
/// [`DEDUP_NON_ENTRIES`], so NON traffic never evicts a CON entry.
pub const DEDUP_ENTRIES: usize = 64;

/// Entries of the deduplication cache for NON messages (16 bytes each),
/// separate from the [`DEDUP_ENTRIES`] of CON messages. A NON request gets
/// no reply to replay; its entry only keeps a duplicate within the ring's
/// reach from being applied twice. Small, so that it fits [`ENGINE_BUDGET`]
/// beside the CON ring; a NON duplicate that arrives after more than this
/// many other NON messages is handled again.
pub const DEDUP_NON_ENTRIES: usize = 8;

/// Most bytes `size_of::<Engine>()` may take, on 32- and 64-bit targets
/// (it holds a few pointers, so it is slightly larger on 64-bit).
pub const ENGINE_BUDGET: usize = 1472;

// Encoded requests and their lengths are u16 in the request nodes.
const _: () = assert!(MESSAGE_MAX + 16 <= u16::MAX as usize);
const _: () = assert!(DEDUP_ENTRIES <= 255 && DEDUP_NON_ENTRIES <= 255);
const _: () = assert!(DEDUP_ENTRIES > 0 && DEDUP_NON_ENTRIES > 0);
const _: () = assert!(VALUE_MAX <= u32::MAX as usize && TRANSFERS_MAX > 0);
const _: () = assert!(core::mem::size_of::<crate::engine::Engine>() <= ENGINE_BUDGET);

#[cfg(test)]
#[allow(clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn header_define(name: &str) -> usize {
        let header = include_str!("../mod/mpcoap.h");
        let prefix = format!("#define {name} ");
        let line = header
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{name} missing from mod/mpcoap.h"));
        let value = line[prefix.len()..].split_whitespace().next().unwrap_or("");
        value.parse().unwrap_or_else(|_| panic!("{name}: {value:?} is not a number"))
    }

    #[test]
    fn header_agrees() {
        assert_eq!(header_define("MPCOAP_MESSAGE_MAX"), MESSAGE_MAX);
    }

    #[test]
    fn value_max_arithmetic() {
        assert_eq!(GET_RESPONSE_OVERHEAD_MAX, 24);
        assert_eq!(SINGLE_VALUE_MAX, 1128);
        // A Block1 block number of a value up to VALUE_MAX fits the 16 bits
        // of a dedup entry's `extra` (num << 4 | m << 3 | szx).
        assert!((VALUE_MAX / 16) << 4 <= u16::MAX as usize);
    }
}

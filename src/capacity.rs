//! Every capacity of the engine, in one place.
//!
//! The defaults suit an ESP32 without PSRAM: the whole
//! [`Engine`](crate::engine::Engine) stays within [`ENGINE_BUDGET`] bytes
//! (checked at compile time below), which together with the shim's one
//! transmit buffer of [`MESSAGE_MAX`] bytes and its object headers keeps the
//! block that `init()` allocates under 8 KiB.
//!
//! Going over any capacity is an error, never a silent drop, except for the
//! deduplication cache, which is a cache: when one of its two rings (CON,
//! NON) is full it evicts that ring's oldest entry (see `docs/engine.md`).
//!
//! `mod/mpcoap.h` repeats [`MESSAGE_MAX`], [`RESOURCES_MAX`] and
//! [`SESSIONS_MAX`] for the C shim; a test below reads the header and fails
//! if they disagree.
//!
//! ```
//! use mpcoap::capacity::*;
//! // A GET response carrying the largest value still fits one message.
//! assert_eq!(VALUE_MAX + GET_RESPONSE_OVERHEAD_MAX, MESSAGE_MAX);
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

/// Largest value a resource can hold: it always fits one GET response.
/// Larger values are refused (`Error::ValueTooLarge`), larger PUT/POST
/// payloads get 4.13 with Size1 = `VALUE_MAX`.
pub const VALUE_MAX: usize = MESSAGE_MAX - GET_RESPONSE_OVERHEAD_MAX;

/// Largest `/.well-known/core` document (bytes): a response with an 8-byte
/// token, Content-Format 40 (2 bytes) and the payload marker must fit one
/// message. Adding a resource or an attribute that would make the unfiltered
/// document longer is refused, so the document is never truncated.
pub const WELL_KNOWN_CORE_MAX: usize = MESSAGE_MAX - (4 + 8 + 2 + 1);

/// Resources in the table.
pub const RESOURCES_MAX: usize = 16;

/// Attributes over all resources.
pub const ATTRIBUTES_MAX: usize = 32;

/// Bytes for every resource's uri plus every attribute's name and value.
pub const TEXT_BYTES: usize = 1024;

/// Bytes for all resource values together.
pub const VALUE_BYTES: usize = 2432;

/// Client sessions.
pub const SESSIONS_MAX: usize = 8;

/// Client requests held at once, over all sessions: queued (waiting for
/// NSTART=1), outstanding (being retransmitted) and acknowledged ones
/// waiting for their separate response.
pub const REQUESTS_MAX: usize = 8;

/// Bytes of encoded requests held for sending and retransmission. At least
/// one message of [`MESSAGE_MAX`] bytes.
pub const REQUEST_BYTES: usize = 1152;

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

/// Most bytes `size_of::<Engine>()` may take: 6.5 KiB.
pub const ENGINE_BUDGET: usize = 6656;

const _: () = assert!(REQUEST_BYTES >= MESSAGE_MAX);
const _: () = assert!(VALUE_BYTES >= VALUE_MAX);
// Arena offsets and lengths are u16.
const _: () = assert!(TEXT_BYTES <= u16::MAX as usize);
const _: () = assert!(VALUE_BYTES <= u16::MAX as usize);
const _: () = assert!(REQUEST_BYTES <= u16::MAX as usize);
const _: () = assert!(RESOURCES_MAX <= 255 && SESSIONS_MAX <= 255 && REQUESTS_MAX <= 255);
const _: () = assert!(DEDUP_ENTRIES <= 255 && DEDUP_NON_ENTRIES <= 255 && ATTRIBUTES_MAX <= 255);
const _: () = assert!(DEDUP_ENTRIES > 0 && DEDUP_NON_ENTRIES > 0);
// The Engine holds no pointers, so its size is the same on 32- and 64-bit
// targets; this holds for the riscv32 firmware builds as for the host.
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
        assert_eq!(header_define("MPCOAP_RESOURCES_MAX"), RESOURCES_MAX);
        assert_eq!(header_define("MPCOAP_SESSIONS_MAX"), SESSIONS_MAX);
    }

    #[test]
    fn value_max_arithmetic() {
        assert_eq!(GET_RESPONSE_OVERHEAD_MAX, 24);
        assert_eq!(VALUE_MAX, 1128);
        assert_eq!(WELL_KNOWN_CORE_MAX, 1137);
    }
}

//! Status codes: engine errors to `MPCOAP_ERR_*`, and each code's Python
//! exception kind and message.

use core::ffi::{c_char, CStr};

use micropython_sys as sys;

use crate::capacity;
use crate::engine::Error;

/// The code of an engine error (one-to-one, see docs/internals.md).
pub(super) fn of(e: Error) -> i32 {
    match e {
        Error::Uri => sys::MPCOAP_ERR_URI,
        Error::Exists => sys::MPCOAP_ERR_EXISTS,
        Error::ValueTooLarge => sys::MPCOAP_ERR_VALUE_TOO_LARGE,
        Error::Attribute => sys::MPCOAP_ERR_ATTRIBUTE,
        Error::Stale => sys::MPCOAP_ERR_STALE,
        Error::Method => sys::MPCOAP_ERR_METHOD,
        Error::Operation => sys::MPCOAP_ERR_OPERATION,
        Error::Token => sys::MPCOAP_ERR_TOKEN,
        Error::PayloadTooLarge => sys::MPCOAP_ERR_PAYLOAD_TOO_LARGE,
        Error::Buffer => sys::MPCOAP_ERR_BUFFER,
        Error::NeedStorage => sys::MPCOAP_NEED_STORAGE,
        Error::NoMemory => sys::MPCOAP_ERR_NO_MEMORY,
    }
}

const VALUE: i32 = sys::MPCOAP_KIND_VALUE as i32;
const RUNTIME: i32 = sys::MPCOAP_KIND_RUNTIME as i32;
const MEMORY: i32 = sys::MPCOAP_KIND_MEMORY as i32;

/// (status, kind, message), row `i` for status `-i`, then the row for
/// unknown statuses. Messages are printf formats: `%%` for `%`, and at most
/// one `%u`, filled with [`mpcoap_status_arg`] (a capacity named in
/// `src/capacity.rs`, so no number is written twice).
/// Only read at compile time: firmware holds [`MESSAGES`], [`OFFSETS`]
/// and [`KINDS`] instead of a match or fat pointers (flash budget).
const STATUSES: [(i32, i32, &CStr); 18] = [
    (0, 0, c"ok"),
    (
        sys::MPCOAP_ERR_URI,
        VALUE,
        c"\"uri\"/\"uri_path\" segments must be at most 255 bytes; \"uri\" must be non-empty UTF-8, \"uri_path\" have valid %%XX escapes",
    ),
    (sys::MPCOAP_ERR_EXISTS, RUNTIME, c"Resource already exists or cannot be created!"),
    (sys::MPCOAP_ERR_VALUE_TOO_LARGE, VALUE, c"\"value\" must be at most %u bytes (Coap.VALUE_MAX)"),
    (
        sys::MPCOAP_ERR_ATTRIBUTE,
        VALUE,
        c"attribute \"name\" must be 1..255 characters of letters, digits and !#$&+-.^_`|~, \"value\" at most %u bytes",
    ),
    (sys::MPCOAP_ERR_STALE, RUNTIME, c"the resource or session was removed"),
    (sys::MPCOAP_ERR_METHOD, VALUE, c"Invalid \"method\" parameter value!"),
    (
        sys::MPCOAP_ERR_OPERATION,
        VALUE,
        c"\"operation\" must be an OR of REQUEST_GET, REQUEST_PUT, REQUEST_POST, REQUEST_DELETE",
    ),
    (sys::MPCOAP_ERR_MEDIA_TYPE, VALUE, c"\"media_type\"/\"content_format\" must be -1 (none) or 0..65535"),
    (sys::MPCOAP_ERR_MAX_AGE, VALUE, c"\"max_age\" must be -1 (none) or 0..4294967295"),
    (sys::MPCOAP_ERR_TOKEN, VALUE, c"\"token\" must be at most 8 bytes"),
    (
        sys::MPCOAP_ERR_PAYLOAD_TOO_LARGE,
        VALUE,
        c"\"payload\" > %u bytes (Coap.VALUE_MAX) or \"uri_path\" too long",
    ),
    (sys::MPCOAP_ERR_BUFFER, RUNTIME, c"buffer must be non-NULL and at least %u bytes (one message)"),
    (sys::MPCOAP_ERR_NOT_FOUND, RUNTIME, c"no such resource or session"),
    (
        sys::MPCOAP_ERR_MEMORY,
        RUNTIME,
        c"engine block must be mpcoap_engine_size() bytes aligned to mpcoap_engine_align(), and a granted block what was asked for",
    ),
    (sys::MPCOAP_ERR_NO_MEMORY, MEMORY, c"memory allocation failed: the heap cannot supply the storage this needs"),
    (sys::MPCOAP_NEED_STORAGE, RUNTIME, c"internal: the engine asked for storage that was not supplied"),
    (i32::MIN, RUNTIME, c"unknown coap engine status"),
];

/// Every message with its NUL, one after the other.
#[allow(clippy::indexing_slicing)] // evaluated at compile time: out of range fails the build
static MESSAGES: [u8; MESSAGES_LEN] = {
    let mut out = [0u8; MESSAGES_LEN];
    let mut at = 0;
    let mut i = 0;
    while i < STATUSES.len() {
        let bytes = STATUSES[i].2.to_bytes_with_nul();
        let mut k = 0;
        while k < bytes.len() {
            out[at] = bytes[k];
            at += 1;
            k += 1;
        }
        i += 1;
    }
    out
};

#[allow(clippy::indexing_slicing)] // evaluated at compile time: out of range fails the build
const MESSAGES_LEN: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < STATUSES.len() {
        n += STATUSES[i].2.to_bytes_with_nul().len();
        i += 1;
    }
    n
};

/// Where each row's message starts in [`MESSAGES`].
#[allow(clippy::indexing_slicing)] // evaluated at compile time: out of range fails the build
static OFFSETS: [u16; STATUSES.len()] = {
    let mut out = [0u16; STATUSES.len()];
    let mut at = 0;
    let mut i = 0;
    while i < STATUSES.len() {
        // Row i is status -i (the last row: unknown).
        assert!(i + 1 == STATUSES.len() || STATUSES[i].0 == -(i as i32), "status rows out of order");
        out[i] = at as u16;
        at += STATUSES[i].2.to_bytes_with_nul().len();
        i += 1;
    }
    assert!(at <= u16::MAX as usize);
    out
};

/// Each row's `MPCOAP_KIND_*` (0 for success).
#[allow(clippy::indexing_slicing)] // evaluated at compile time: out of range fails the build
static KINDS: [u8; STATUSES.len()] = {
    let mut out = [0u8; STATUSES.len()];
    let mut i = 0;
    while i < STATUSES.len() {
        out[i] = STATUSES[i].1 as u8;
        i += 1;
    }
    out
};

/// The row of a status: 0 for success, `-status` for a known error, else
/// the last row.
fn row(status: i32) -> usize {
    match status {
        s if s >= 0 => 0,
        s => (s.unsigned_abs() as usize).min(STATUSES.len() - 1),
    }
}

/// The number a status's message names with `%u` (0 if none).
#[no_mangle]
pub extern "C" fn mpcoap_status_arg(status: i32) -> u32 {
    let n = match status {
        sys::MPCOAP_ERR_ATTRIBUTE => u16::MAX as usize,
        sys::MPCOAP_ERR_VALUE_TOO_LARGE | sys::MPCOAP_ERR_PAYLOAD_TOO_LARGE => capacity::VALUE_MAX,
        sys::MPCOAP_ERR_BUFFER => capacity::MESSAGE_MAX,
        _ => 0,
    };
    n as u32
}

/// The Python exception kind (`MPCOAP_KIND_*`) of a negative status; 0 for
/// success.
#[no_mangle]
pub extern "C" fn mpcoap_status_kind(status: i32) -> i32 {
    KINDS.get(row(status)).map_or(RUNTIME, |k| i32::from(*k))
}

/// A static, NUL-terminated message for a status, naming the argument and
/// the rule it broke.
#[no_mangle]
pub extern "C" fn mpcoap_status_message(status: i32) -> *const c_char {
    let at = OFFSETS.get(row(status)).map_or(0, |o| usize::from(*o));
    MESSAGES.as_ptr().wrapping_add(at).cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(status: i32) -> (i32, &'static CStr) {
        // SAFETY: the pointer is into MESSAGES, at the start of a
        // NUL-terminated message.
        (mpcoap_status_kind(status), unsafe { CStr::from_ptr(mpcoap_status_message(status)) })
    }

    #[test]
    fn every_code_has_its_own_message_and_a_kind() {
        let mut seen = std::collections::HashSet::new();
        for s in sys::MPCOAP_NEED_STORAGE..=sys::MPCOAP_ERR_URI {
            let (kind, msg) = describe(s);
            assert!((1..=4).contains(&kind), "{s}");
            // A printf format: "%%", and "%u" exactly when there is a number.
            let text = msg.to_str().unwrap_or_default();
            let units = text.matches("%u").count();
            assert_eq!(units, usize::from(mpcoap_status_arg(s) != 0), "{s}: {text}");
            assert_eq!(text.replace("%%", "").replace("%u", "").matches('%').count(), 0, "{s}: {text}");
            assert_ne!(msg, c"unknown coap engine status", "{s}");
            assert!(seen.insert(msg), "{s} repeats a message");
            assert_eq!(Some(&(s, kind, msg)), STATUSES.get(s.unsigned_abs() as usize), "{s}");
        }
        for s in [sys::MPCOAP_NEED_STORAGE - 1, -1000, i32::MIN] {
            assert_eq!(describe(s), (RUNTIME, c"unknown coap engine status"));
        }
        for s in [0, 1, i32::MAX] {
            assert_eq!(describe(s), (0, c"ok"));
        }
        assert_eq!(describe(sys::MPCOAP_ERR_NO_MEMORY).0, MEMORY);
        assert_eq!(mpcoap_status_arg(sys::MPCOAP_ERR_VALUE_TOO_LARGE), capacity::VALUE_MAX as u32);
    }
}

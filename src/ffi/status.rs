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
        Error::ResourcesFull => sys::MPCOAP_ERR_RESOURCES_FULL,
        Error::TextFull => sys::MPCOAP_ERR_TEXT_FULL,
        Error::ValueTooLarge => sys::MPCOAP_ERR_VALUE_TOO_LARGE,
        Error::ValuesFull => sys::MPCOAP_ERR_VALUES_FULL,
        Error::Attribute => sys::MPCOAP_ERR_ATTRIBUTE,
        Error::AttributesFull => sys::MPCOAP_ERR_ATTRIBUTES_FULL,
        Error::Stale => sys::MPCOAP_ERR_STALE,
        Error::Method => sys::MPCOAP_ERR_METHOD,
        Error::Operation => sys::MPCOAP_ERR_OPERATION,
        Error::Token => sys::MPCOAP_ERR_TOKEN,
        Error::PayloadTooLarge => sys::MPCOAP_ERR_PAYLOAD_TOO_LARGE,
        Error::SessionsFull => sys::MPCOAP_ERR_SESSIONS_FULL,
        Error::QueueFull => sys::MPCOAP_ERR_QUEUE_FULL,
        Error::Buffer => sys::MPCOAP_ERR_BUFFER,
    }
}

/// (kind, message) of a status. The numbers in the messages are those of
/// `src/capacity.rs`; the asserts below fail the build if one changes.
fn describe(status: i32) -> (i32, &'static CStr) {
    const VALUE: i32 = sys::MPCOAP_KIND_VALUE as i32;
    const RUNTIME: i32 = sys::MPCOAP_KIND_RUNTIME as i32;
    const OS: i32 = sys::MPCOAP_KIND_OS as i32;
    match status {
        s if s >= 0 => (0, c"ok"),
        sys::MPCOAP_ERR_URI => (
            VALUE,
            c"\"uri\" must be non-empty UTF-8 with path segments of at most 255 bytes and valid %XX escapes",
        ),
        // Pycom's message, which scripts may compare against.
        sys::MPCOAP_ERR_EXISTS => (RUNTIME, c"Resource already exists or cannot be created!"),
        sys::MPCOAP_ERR_RESOURCES_FULL => {
            (RUNTIME, c"Resource already exists or cannot be created! (resource table full: 16 resources)")
        }
        sys::MPCOAP_ERR_TEXT_FULL => (
            RUNTIME,
            c"no room for this \"uri\" or attribute: text storage (1024 bytes) is full or /.well-known/core would exceed one message",
        ),
        sys::MPCOAP_ERR_VALUE_TOO_LARGE => (VALUE, c"\"value\" must be at most 1128 bytes (one response)"),
        sys::MPCOAP_ERR_VALUES_FULL => (RUNTIME, c"value storage (2432 bytes over all resources) is full"),
        sys::MPCOAP_ERR_ATTRIBUTE => (
            VALUE,
            c"attribute \"name\" must be 1..255 characters of letters, digits and !#$&+-.^_`|~",
        ),
        sys::MPCOAP_ERR_ATTRIBUTES_FULL => (RUNTIME, c"attribute table is full (32 attributes)"),
        sys::MPCOAP_ERR_STALE => (RUNTIME, c"the resource or session was removed"),
        // Pycom's message.
        sys::MPCOAP_ERR_METHOD => (VALUE, c"Invalid \"method\" parameter value!"),
        sys::MPCOAP_ERR_OPERATION => (
            VALUE,
            c"\"operation\" must be an OR of REQUEST_GET, REQUEST_PUT, REQUEST_POST, REQUEST_DELETE",
        ),
        sys::MPCOAP_ERR_MEDIA_TYPE => (VALUE, c"\"media_type\"/\"content_format\" must be -1 (none) or 0..65535"),
        sys::MPCOAP_ERR_MAX_AGE => (VALUE, c"\"max_age\" must be -1 (none) or 0..4294967295"),
        sys::MPCOAP_ERR_TOKEN => (VALUE, c"\"token\" must be at most 8 bytes"),
        sys::MPCOAP_ERR_PAYLOAD_TOO_LARGE => (
            VALUE,
            c"request must fit one message (1152 bytes): \"payload\" or \"uri_path\" too long",
        ),
        sys::MPCOAP_ERR_SESSIONS_FULL => (RUNTIME, c"session table is full (8 sessions)"),
        sys::MPCOAP_ERR_QUEUE_FULL => (OS, c"request queue is full (8 requests)"),
        sys::MPCOAP_ERR_BUFFER => (
            RUNTIME,
            c"buffer must be non-NULL and at least MPCOAP_MESSAGE_MAX (1152) bytes",
        ),
        sys::MPCOAP_ERR_NOT_FOUND => (RUNTIME, c"no such resource or session"),
        sys::MPCOAP_ERR_MEMORY => (
            RUNTIME,
            c"engine block must be mpcoap_engine_size() bytes aligned to mpcoap_engine_align()",
        ),
        _ => (RUNTIME, c"unknown coap engine status"),
    }
}

const _: () = assert!(capacity::RESOURCES_MAX == 16);
const _: () = assert!(capacity::TEXT_BYTES == 1024);
const _: () = assert!(capacity::VALUE_MAX == 1128);
const _: () = assert!(capacity::VALUE_BYTES == 2432);
const _: () = assert!(capacity::ATTRIBUTES_MAX == 32);
const _: () = assert!(capacity::MESSAGE_MAX == 1152);
const _: () = assert!(capacity::SESSIONS_MAX == 8);
const _: () = assert!(capacity::REQUESTS_MAX == 8);

/// The Python exception kind (`MPCOAP_KIND_*`) of a negative status; 0 for
/// success.
#[no_mangle]
pub extern "C" fn mpcoap_status_kind(status: i32) -> i32 {
    describe(status).0
}

/// A static, NUL-terminated message for a status, naming the argument and
/// the rule it broke.
#[no_mangle]
pub extern "C" fn mpcoap_status_message(status: i32) -> *const c_char {
    describe(status).1.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_message_and_a_kind() {
        let mut seen = std::collections::HashSet::new();
        for s in sys::MPCOAP_ERR_MEMORY..=sys::MPCOAP_ERR_URI {
            let (kind, msg) = describe(s);
            assert!((1..=4).contains(&kind), "{s}");
            assert_ne!(msg, c"unknown coap engine status", "{s}");
            assert!(seen.insert(msg), "{s} repeats a message");
        }
        assert_eq!(describe(-21).1, c"unknown coap engine status");
        assert_eq!(describe(0).0, 0);
    }
}

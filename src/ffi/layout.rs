//! The C compiler and clang agree on the boundary structs: `build.rs` checked
//! these numbers with the target's C compiler (`_Static_assert`), and here
//! they are checked against the bindgen (clang) types as Rust lays them out.

use core::mem::{align_of, offset_of, size_of};
use micropython_sys::{mpcoap_endpoint_t, mpcoap_event_t, mpcoap_request_t, mpcoap_storage_stats_t};

mod expected {
    include!(concat!(env!("OUT_DIR"), "/layout.rs"));
}
use expected::*;

const _: () = {
    assert!(size_of::<mpcoap_endpoint_t>() == MPCOAP_ENDPOINT_SIZE);
    assert!(align_of::<mpcoap_endpoint_t>() == MPCOAP_ENDPOINT_ALIGN);
    assert!(offset_of!(mpcoap_endpoint_t, addr) == MPCOAP_ENDPOINT_ADDR_OFFSET);
    assert!(offset_of!(mpcoap_endpoint_t, port) == MPCOAP_ENDPOINT_PORT_OFFSET);

    assert!(size_of::<mpcoap_request_t>() == MPCOAP_REQUEST_SIZE);
    assert!(align_of::<mpcoap_request_t>() == MPCOAP_REQUEST_ALIGN);
    assert!(offset_of!(mpcoap_request_t, method) == MPCOAP_REQUEST_METHOD_OFFSET);
    assert!(offset_of!(mpcoap_request_t, uri) == MPCOAP_REQUEST_URI_OFFSET);
    assert!(offset_of!(mpcoap_request_t, uri_len) == MPCOAP_REQUEST_URI_LEN_OFFSET);
    assert!(offset_of!(mpcoap_request_t, content_format) == MPCOAP_REQUEST_CONTENT_FORMAT_OFFSET);
    assert!(offset_of!(mpcoap_request_t, payload) == MPCOAP_REQUEST_PAYLOAD_OFFSET);
    assert!(offset_of!(mpcoap_request_t, payload_len) == MPCOAP_REQUEST_PAYLOAD_LEN_OFFSET);
    assert!(offset_of!(mpcoap_request_t, token) == MPCOAP_REQUEST_TOKEN_OFFSET);
    assert!(offset_of!(mpcoap_request_t, token_len) == MPCOAP_REQUEST_TOKEN_LEN_OFFSET);
    assert!(offset_of!(mpcoap_request_t, include_options) == MPCOAP_REQUEST_INCLUDE_OPTIONS_OFFSET);
    assert!(offset_of!(mpcoap_request_t, observe) == MPCOAP_REQUEST_OBSERVE_OFFSET);

    assert!(size_of::<mpcoap_event_t>() == MPCOAP_EVENT_SIZE);
    assert!(align_of::<mpcoap_event_t>() == MPCOAP_EVENT_ALIGN);
    assert!(offset_of!(mpcoap_event_t, kind) == MPCOAP_EVENT_KIND_OFFSET);
    assert!(offset_of!(mpcoap_event_t, handle) == MPCOAP_EVENT_HANDLE_OFFSET);
    assert!(offset_of!(mpcoap_event_t, user) == MPCOAP_EVENT_USER_OFFSET);
    assert!(offset_of!(mpcoap_event_t, code) == MPCOAP_EVENT_CODE_OFFSET);
    assert!(offset_of!(mpcoap_event_t, type_) == MPCOAP_EVENT_TYPE_OFFSET);
    assert!(offset_of!(mpcoap_event_t, mid) == MPCOAP_EVENT_MID_OFFSET);
    assert!(offset_of!(mpcoap_event_t, token) == MPCOAP_EVENT_TOKEN_OFFSET);
    assert!(offset_of!(mpcoap_event_t, token_len) == MPCOAP_EVENT_TOKEN_LEN_OFFSET);
    assert!(offset_of!(mpcoap_event_t, payload) == MPCOAP_EVENT_PAYLOAD_OFFSET);
    assert!(offset_of!(mpcoap_event_t, payload_len) == MPCOAP_EVENT_PAYLOAD_LEN_OFFSET);

    assert!(size_of::<mpcoap_storage_stats_t>() == MPCOAP_STORAGE_STATS_SIZE);
    assert!(align_of::<mpcoap_storage_stats_t>() == MPCOAP_STORAGE_STATS_ALIGN);
    assert!(offset_of!(mpcoap_storage_stats_t, blocks) == MPCOAP_STORAGE_STATS_BLOCKS_OFFSET);
    assert!(offset_of!(mpcoap_storage_stats_t, bytes) == MPCOAP_STORAGE_STATS_BYTES_OFFSET);
    assert!(offset_of!(mpcoap_storage_stats_t, remote_bytes) == MPCOAP_STORAGE_STATS_REMOTE_BYTES_OFFSET);
    assert!(offset_of!(mpcoap_storage_stats_t, remote_budget) == MPCOAP_STORAGE_STATS_REMOTE_BUDGET_OFFSET);
};

/*
 * mpcoap.h - the boundary between the C shim (mod/modcoap.c) and the Rust
 * engine (src/ffi/).
 *
 * Everything that crosses is plain C: fixed-width integers, pointer+length
 * pairs and small structs. No mp_obj_t, no qstr, no MicroPython header, so the
 * same header serves every port and every target (bindgen reads it for the
 * micropython-sys crate; see micropython-sys/build.rs).
 *
 * Rules (docs/internals.md has the reasoning):
 * - The engine never calls back into MicroPython. It cannot raise, block or
 *   allocate. Errors are returned as negative mpcoap_status values.
 * - The engine state is one block of mpcoap_engine_size() bytes, aligned to
 *   mpcoap_engine_align(), that the shim allocates (from the GC heap) and
 *   passes to every call, plus the blocks the shim grants when a call asks
 *   for storage (see "storage"). The shim serialises all calls with its
 *   own mutex.
 * - Pointers inside an mpcoap_event_t point into the datagram passed to the
 *   call that produced it or into the engine block. They are valid only until
 *   the next call into the engine: copy them before unlocking.
 * - Time is a millisecond tick counter that wraps at 2^32.
 */
#ifndef MPCOAP_H
#define MPCOAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- status codes ----------------------------------------------------- */

/* Non-negative values mean success. mpcoap_status_kind() says which Python
 * exception a negative one maps to, mpcoap_status_message() gives a static,
 * NUL-terminated message that names the argument and the rule. */
enum {
    MPCOAP_OK = 0,
    MPCOAP_ERR_URI = -1,            /* uri empty, too long or not valid UTF-8 */
    MPCOAP_ERR_EXISTS = -2,         /* resource already exists */
    MPCOAP_ERR_VALUE_TOO_LARGE = -3,/* value larger than mpcoap_value_max() */
    MPCOAP_ERR_ATTRIBUTE = -4,      /* attribute name invalid */
    MPCOAP_ERR_STALE = -5,          /* handle refers to a removed object */
    MPCOAP_ERR_METHOD = -6,         /* method is not exactly one REQUEST_* */
    MPCOAP_ERR_OPERATION = -7,      /* operation mask has bits outside REQUEST_* */
    MPCOAP_ERR_MEDIA_TYPE = -8,     /* media type / content format out of range */
    MPCOAP_ERR_MAX_AGE = -9,        /* max_age out of range */
    MPCOAP_ERR_TOKEN = -10,         /* token longer than 8 bytes */
    MPCOAP_ERR_PAYLOAD_TOO_LARGE = -11, /* payload over VALUE_MAX, or options over a message */
    MPCOAP_ERR_BUFFER = -12,        /* caller's buffer too small */
    MPCOAP_ERR_NOT_FOUND = -13,     /* no such resource/session */
    MPCOAP_ERR_MEMORY = -14,        /* engine block or granted block of the
                                     * wrong size or alignment */
    MPCOAP_ERR_NO_MEMORY = -15,     /* the heap could not supply (see
                                     * "storage" below): MemoryError */
    MPCOAP_NEED_STORAGE = -16,      /* not an error: supply storage and repeat
                                     * the call (see "storage" below) */
};

enum {
    MPCOAP_KIND_VALUE = 1,   /* ValueError */
    MPCOAP_KIND_RUNTIME = 2, /* RuntimeError */
    MPCOAP_KIND_MEMORY = 3,  /* MemoryError */
    MPCOAP_KIND_TYPE = 4,    /* TypeError */
};

/* mpcoap_status_message() returns a printf format: "%%" for a literal '%',
 * and at most one "%u", to be filled with mpcoap_status_arg(status) (the
 * capacity the message names, so that no number is written twice). */
int32_t mpcoap_status_kind(int32_t status);
const char *mpcoap_status_message(int32_t status);
uint32_t mpcoap_status_arg(int32_t status);

/* ---- constants of the Python API -------------------------------------- */

/* Pycom's bit flags for methods (not CoAP codes). */
#define MPCOAP_REQUEST_GET 1
#define MPCOAP_REQUEST_PUT 2
#define MPCOAP_REQUEST_POST 4
#define MPCOAP_REQUEST_DELETE 8

/* Message types, as passed to the response handler. */
#define MPCOAP_TYPE_CON 0
#define MPCOAP_TYPE_NON 1
#define MPCOAP_TYPE_ACK 2
#define MPCOAP_TYPE_RST 3
/* "type" of the handler call for a request that gave up (Coap.TIMEOUT). */
#define MPCOAP_TYPE_TIMEOUT 255

/* The one capacity the shim needs at compile time (its datagram buffer);
 * src/capacity.rs defines it and a test there checks that this agrees. */
#define MPCOAP_MESSAGE_MAX 1152 /* bytes in one datagram, both ways */

/* ---- engine lifecycle -------------------------------------------------- */

size_t mpcoap_engine_size(void);
size_t mpcoap_engine_align(void);
/* Initialise the engine in place in `mem` (len bytes). `seed` seeds the
 * engine's PRNG (message IDs, tokens, back-off jitter). `remote_budget`:
 * bytes that remote peers may make the engine hold (values grown by
 * PUT/POST beyond what the application stored); see
 * mpcoap_remote_budget_default(). */
int32_t mpcoap_engine_init(void *mem, size_t len, uint32_t now_ms, uint32_t seed,
    uint32_t remote_budget);
/* Largest value a resource can hold (fits one response). */
size_t mpcoap_value_max(void);
/* The default remote budget (Coap.REMOTE_BUDGET), bytes. */
uint32_t mpcoap_remote_budget_default(void);

/* Removes one resource (the oldest) or, when none is left, one session
 * (the oldest, with its requests) and sets *user to the user word it was
 * added with. Returns 1 if it removed one, 0 when nothing is left. For
 * deinit(): call until it returns 0, then give the storage back. */
int32_t mpcoap_engine_take_user(void *eng, uintptr_t *user);

/* ---- storage ------------------------------------------------------------
 * The engine never allocates. A call that needs storage returns
 * MPCOAP_NEED_STORAGE and has changed nothing; it checks its arguments
 * first, so an argument error is returned before any storage is asked for.
 * The caller then allocates mpcoap_storage_need() bytes (aligned at least to
 * a pointer) and hands them over with mpcoap_storage_grant(), again while
 * mpcoap_storage_need() names a block (a call asks for up to two at once),
 * and then repeats the same call with the same arguments. If the heap
 * cannot supply, the caller calls mpcoap_storage_refuse() instead and
 * repeats: the call then fails with MPCOAP_ERR_NO_MEMORY, having changed
 * nothing (mpcoap_engine_receive answers the peer 5.03 instead and
 * succeeds). No call asks for storage again after a refusal.
 *
 * After every engine call, free each block that mpcoap_storage_take()
 * returns until it returns NULL: blocks no longer used (a removed resource,
 * a smaller value, a finished request, a block granted but not used).
 * Event and value pointers never point into such a block.
 *
 * The engine keeps only pointers to the start of granted blocks, stored at
 * pointer-aligned offsets inside its own block or inside granted blocks: a
 * conservative scan that starts at the engine block (MicroPython's GC)
 * finds every block in use. Released blocks are cleared first. */
size_t mpcoap_storage_need(void *eng);
/* MPCOAP_ERR_MEMORY if the block is NULL, misaligned or not the size asked
 * for; the caller keeps it (and frees it). */
int32_t mpcoap_storage_grant(void *eng, void *block, size_t size);
void mpcoap_storage_refuse(void *eng);
void *mpcoap_storage_take(void *eng, size_t *size);

typedef struct {
    uint32_t blocks;        /* granted blocks the engine holds */
    uint32_t bytes;         /* their sizes, summed */
    uint32_t remote_bytes;  /* counted against the remote budget */
    uint32_t remote_budget;
} mpcoap_storage_stats_t;
void mpcoap_storage_stats(void *eng, mpcoap_storage_stats_t *out);

/* ---- resources (server) ------------------------------------------------ */

/* media_type: -1 = absent, else 0..65535. max_age: -1 = absent, else
 * 0..2^32-1. A leading '/' in uri is ignored. `user` is stored with the
 * resource (the shim's object: the engine's storage keeps it alive) and
 * comes back in events and lookups. On success *handle is set. */
int32_t mpcoap_resource_add(void *eng, const uint8_t *uri, size_t uri_len,
    int32_t media_type, int64_t max_age, const uint8_t *value, size_t value_len,
    bool etag, uintptr_t user, uint32_t *handle);
/* MPCOAP_ERR_NOT_FOUND if no resource has that uri. */
int32_t mpcoap_resource_find(void *eng, const uint8_t *uri, size_t uri_len,
    uint32_t *handle, uintptr_t *user);
/* The user word of the index-th resource in the order added; 0 past the end. */
uintptr_t mpcoap_resource_user(void *eng, size_t index);
int32_t mpcoap_resource_remove(void *eng, uint32_t handle);
/* *value points into the engine's storage; valid until the next engine call. */
int32_t mpcoap_resource_value(void *eng, uint32_t handle, const uint8_t **value, size_t *len);
int32_t mpcoap_resource_set_value(void *eng, uint32_t handle, const uint8_t *value, size_t len);
int32_t mpcoap_resource_add_attribute(void *eng, uint32_t handle,
    const uint8_t *name, size_t name_len, const uint8_t *value, size_t value_len);
/* operation: OR of MPCOAP_REQUEST_*. */
int32_t mpcoap_resource_set_methods(void *eng, uint32_t handle, uint32_t operation, bool enable);
/* Observe (RFC 7641): an observable resource shows `obs` in discovery and
 * a GET with Observe 0 registers the client; its notifications come out of
 * mpcoap_engine_poll_transmit. Turning it off ends its observations. */
int32_t mpcoap_resource_set_observable(void *eng, uint32_t handle, bool observable);

/* ---- client sessions --------------------------------------------------- */

typedef struct {
    uint8_t addr[4]; /* IPv4, network order */
    uint16_t port;   /* host order */
} mpcoap_endpoint_t;

typedef struct {
    uint32_t method;           /* exactly one MPCOAP_REQUEST_* */
    const uint8_t *uri;        /* "a/b?x=1"; NULL or empty: no Uri-Path */
    size_t uri_len;
    int32_t content_format;    /* -1 = absent */
    const uint8_t *payload;    /* may be NULL when payload_len is 0 */
    size_t payload_len;
    const uint8_t *token;      /* 0..8 bytes */
    size_t token_len;
    bool include_options;
    bool observe;              /* a GET that registers an observation (RFC 7641) */
} mpcoap_request_t;

/* `user` as for mpcoap_resource_add. */
int32_t mpcoap_session_new(void *eng, const mpcoap_endpoint_t *peer, uintptr_t user, uint32_t *handle);
/* The user word of the index-th session in the order created; 0 past the end. */
uintptr_t mpcoap_session_user(void *eng, size_t index);
/* The user word of the index-th session to `peer`, in the order created; 0
 * past the end. Walks the sessions once: cheaper than filtering
 * mpcoap_session_user() by peer, which walks them once per index. */
uintptr_t mpcoap_session_user_to(void *eng, const mpcoap_endpoint_t *peer, size_t index);
/* Drops the session's queued and outstanding requests silently. */
int32_t mpcoap_session_remove(void *eng, uint32_t handle);
/* Cancels the session's request that carries the token, sent or queued:
 * dropped silently (no event, no more retransmissions); a late response then
 * matches nothing. With `observe`, ends the session's observation that
 * carries the token instead: a GET with Observe 1 goes, and nothing more is
 * reported for it (a registration not yet answered is dropped). 1 if there
 * was one, 0 if not. Needs no storage. */
int32_t mpcoap_session_cancel(void *eng, uint32_t handle, uint32_t now_ms, bool observe,
    const uint8_t *token, size_t token_len);
/* Queues a confirmable request; *mid receives its message ID. */
int32_t mpcoap_session_request(void *eng, uint32_t handle, uint32_t now_ms,
    const mpcoap_request_t *req, uint16_t *mid);

/* ---- datagrams, time and events --------------------------------------- */

enum {
    MPCOAP_EVENT_NONE = 0,
    /* A response to one of our requests (or RST / timeout, see type). */
    MPCOAP_EVENT_RESPONSE = 1,
    /* A remote DELETE removed the resource `handle`. */
    MPCOAP_EVENT_RESOURCE_DELETED = 2,
};

typedef struct {
    uint32_t kind;            /* MPCOAP_EVENT_* */
    uint32_t handle;          /* session (RESPONSE) or resource (DELETED) */
    uintptr_t user;           /* that session's or resource's user word */
    uint8_t code;             /* raw code byte, 2.05 -> 69; 0 for RST/timeout */
    uint8_t type;             /* MPCOAP_TYPE_* */
    uint16_t mid;             /* message ID of the received message, or of
                               * our request for RST/timeout */
    const uint8_t *token;
    size_t token_len;
    const uint8_t *payload;
    size_t payload_len;
} mpcoap_event_t;

/* Handle one received datagram from `from`. `via_multicast` marks datagrams
 * that arrived on the multicast socket (no error responses are sent for
 * them). A datagram longer than MPCOAP_MESSAGE_MAX is oversize: the shim
 * reads at most one byte more and passes what it got (truncated); the
 * engine reads the first MPCOAP_MESSAGE_MAX bytes and answers a request
 * with 4.13 and Size1. If the engine answers directly, the reply is written to `reply`
 * (cap bytes, at least MPCOAP_MESSAGE_MAX) and *reply_len is set, else
 * *reply_len is 0; the reply goes back to `from`. Returns 1 if *event was
 * filled, 0 if not, or a negative status. */
int32_t mpcoap_engine_receive(void *eng, uint32_t now_ms,
    const mpcoap_endpoint_t *from, bool via_multicast,
    const uint8_t *data, size_t len,
    uint8_t *reply, size_t reply_cap, size_t *reply_len,
    mpcoap_event_t *event);

/* Next datagram the engine wants sent now (requests, retransmissions,
 * ACK/RST of responses, Observe notifications: send them all from the
 * server's socket when there is one). Returns its length (> 0) with *dest set, 0 when
 * nothing is due, or a negative status. Call until it returns 0. */
int32_t mpcoap_engine_poll_transmit(void *eng, uint32_t now_ms,
    uint8_t *buf, size_t cap, mpcoap_endpoint_t *dest);

/* Events that arise from time passing (a request gave up). Returns 1 if
 * *event was filled, 0 if none. Call until it returns 0. */
int32_t mpcoap_engine_poll_event(void *eng, uint32_t now_ms, mpcoap_event_t *event);

/* Milliseconds until the engine next needs poll_transmit/poll_event, 0 if
 * something is due now, -1 if nothing is pending. */
int32_t mpcoap_engine_next_timeout(void *eng, uint32_t now_ms);

/* Host tests only (the private coap._set_ack_timeout): ACK_TIMEOUT in ms
 * for requests sent from now on; 0, or more than the shipped ACK_TIMEOUT,
 * restores the shipped value. Returns the ACK_TIMEOUT in force. */
int32_t mpcoap_engine_set_ack_timeout(void *eng, uint32_t ms);

/* ---- provided by the shim, called by Rust ------------------------------ */

/* Print a panic message and abort. Rust's panic handler calls this; it
 * must not return. Never raises. */
void mpcoap_port_panic(const uint8_t *msg, size_t len);

#endif /* MPCOAP_H */

/*
 * modcoap.c - the MicroPython module `coap` (also `network.Coap`): a CoAP
 * (RFC 7252) server and client with Pycom's `network.Coap` API.
 *
 * This file is the C shim. The protocol lives in the Rust engine behind
 * mod/mpcoap.h; this file owns everything that touches MicroPython: argument
 * parsing, the module state on the GC heap, the Python objects, the lock, the
 * sockets (MicroPython's own `socket` module) and read().
 *
 * Rules that hold everywhere below (docs/internals.md has the long form):
 * - The engine cannot raise, block, allocate or call back, so no exception
 *   ever crosses a Rust frame: the shim raises after the engine has returned.
 * - The state's mutex is held only around engine calls and plain C updates of
 *   the state. It is never held across a socket call, a wait, or a call into
 *   Python code. The few allocations made under it are wrapped in nlr_push so
 *   a MemoryError releases it (see coap_new_bytes_locked for why allocating
 *   under it cannot deadlock).
 * - Every state change happens after the last check that can fail, so a call
 *   that raises changes nothing.
 * - The engine's storage comes from the GC heap, on demand: a call that needs
 *   some returns MPCOAP_NEED_STORAGE, having changed nothing, and is repeated
 *   once the block is granted (COAP_ENGINE_CALL). Blocks the engine no longer
 *   uses are freed after each call (coap_give_back). The engine keeps the
 *   blocks and the Python objects of resources and sessions (their `user`
 *   words) alive: they are reachable from the engine block, which the GC
 *   scans as part of the state.
 */

#include <stdlib.h>
#include <string.h>

#include "py/binary.h"
#include "py/cstack.h"
#include "py/gc.h"
#include "py/mphal.h"
#include "py/mpthread.h"
#include "py/objarray.h"
#include "py/objint.h"
#include "py/smallint.h"
#include "py/objmodule.h"
#include "py/objstr.h"
#include "py/runtime.h"
#include "py/stream.h"

#include "mpcoap.h"

// On by default wherever this directory is a USER_C_MODULE.
#ifndef MICROPY_PY_COAP
#define MICROPY_PY_COAP (1)
#endif

// Hosted builds (the unix port) print an engine panic with the host's own
// write(2), and have the private knobs that host tests use
// (coap._set_ack_timeout; docs/internals.md). Firmware has neither.
#if defined(__unix__) || defined(__APPLE__)
#define COAP_HOSTED (1)
#include <errno.h>
#include <unistd.h>
#else
#define COAP_HOSTED (0)
#endif
#ifndef MICROPY_PY_COAP_TEST_KNOBS
#define MICROPY_PY_COAP_TEST_KNOBS (COAP_HOSTED)
#endif

#if MICROPY_PY_COAP

// A blocked read() looks at the module state at least this often, so that
// deinit() from another thread and sockets created meanwhile are noticed
// (MicroPython's socket API has no getsockname(), so a wake-up datagram to a
// client-only socket is not possible).
#define COAP_WAIT_SLICE_MS (50)

// Once read() has handled a datagram, it goes on handling the ones that
// keep arriving for at most this long, then returns, so that a flood cannot
// hold it (contract "read()"; its timeout bounds it as well).
#define COAP_DRAIN_MS (50)

// How long deinit() waits for another thread to stop using the sockets
// before it leaves the closing to that thread.
#define COAP_DEINIT_WAIT_MS (1000)

// _process() uses this peer when none is given (TEST-NET-1, RFC 5737).
#define COAP_FAKE_PEER_ADDR {192, 0, 2, 1}
#define COAP_FAKE_PEER_PORT (5683)

// All CoAP nodes multicast group (RFC 7252 §12.8).
#define COAP_MULTICAST_GROUP {224, 0, 1, 187}

// Linux values, used where the socket module has no such constant (the unix
// port's setsockopt passes numbers through).
#define COAP_LINUX_IPPROTO_IP (0)
#define COAP_LINUX_IP_ADD_MEMBERSHIP (35)

// Socket slots. Everything is sent from the server socket when there is one,
// else from the client socket; the multicast socket only receives.
enum {
    COAP_SOCK_SERVER = 0,
    COAP_SOCK_CLIENT = 1,
    COAP_SOCK_MULTICAST = 2,
    COAP_SOCK_COUNT = 3,
};

#if MICROPY_PY_THREAD
#define COAP_LOCK(st) mp_thread_mutex_lock(&(st)->mutex, 1)
#define COAP_UNLOCK(st) mp_thread_mutex_unlock(&(st)->mutex)
#else
#define COAP_LOCK(st) (void)(st)
#define COAP_UNLOCK(st) (void)(st)
#endif

struct _coap_state_t;

// Resources and sessions are passed to the engine as their `user` word (the
// object's address), which comes back in events, lookups and
// mpcoap_engine_take_user(). Both structs keep `st` at the same offset, so
// that a user word can be detached without knowing which one it is.
typedef struct _coap_resource_obj_t {
    mp_obj_base_t base;
    struct _coap_state_t *st; // NULL once detached
    uint32_t handle;
} coap_resource_obj_t;

typedef struct _coap_session_obj_t {
    mp_obj_base_t base;
    struct _coap_state_t *st; // NULL once detached
    uint32_t handle;
    mpcoap_endpoint_t peer;
    mp_obj_t addr; // the peer in the socket module's address form, made at first send
} coap_session_obj_t;

// The module state: one GC object, reached from MP_STATE_VM(coap_state).
// Fields marked (lock) are read and written with the mutex held.
typedef struct _coap_state_t {
    mp_obj_base_t base;
    #if MICROPY_PY_THREAD
    mp_thread_mutex_t mutex;
    #endif
    bool closed;        // (lock) deinit() ran or init() did not finish
    bool reader_active; // (lock) a thread is inside read()
    bool serving;       // (lock) coap_asyncio.serve() runs (_serve())
    void *serve_thread; // (lock) the thread serve() runs in
    mp_obj_t waker;     // (lock) serve()'s wake-up callable, or NULL
    void *reader;       // (lock) that thread (its MicroPython thread state)
    bool tx_busy;       // (lock) a thread owns tx[] and is sending from it
    bool closing;       // (lock) the last socket user is closing the sockets
    bool capture;       // (lock) _transmit() was called: nothing is sent, datagrams wait for it
    uint16_t sock_users; // (lock) threads using the socket objects right now
    uint16_t sockets_gen; // (lock) bumped whenever a socket is added
    uint16_t poller_gen; // read() only: sockets_gen that poller has registered
    mp_obj_t sock[COAP_SOCK_COUNT]; // (lock)
    mp_obj_t poller;     // read() only: a select.poll object, or NULL
    mp_obj_t handler;    // (lock) response handler or None
    mp_obj_t awaited;    // (lock) dict: token -> callback of an awaited request (_await()), or NULL
    mp_obj_t last_addr;  // (lock) address object of the last datagram received
    mpcoap_endpoint_t last_peer; // (lock) the same address, decoded
    mp_uint_t fail_storage; // (lock) _fail_storage(): the supply that refuses when this counts down to 0
    uint8_t *engine;     // the engine block, aligned, inside engine_mem
    size_t engine_len;
    // The one datagram buffer (the GC block budget has room for one): the
    // engine's replies and everything poll_transmit() produces go through it.
    uint8_t tx[MPCOAP_MESSAGE_MAX]; // owned by the thread that set tx_busy
    uint8_t engine_mem[];
} coap_state_t;

// The state and `n` bytes of engine_mem[] in one GC block with a finaliser.
// MicroPython 1.27 added the variable-length field's name to this macro
// (py/obj.h); 1.26 sized the block from sizeof(coap_state_t).
#if MICROPY_VERSION >= MICROPY_MAKE_VERSION(1, 27, 0)
#define COAP_MALLOC_STATE(n) \
    mp_obj_malloc_var_with_finaliser(coap_state_t, engine_mem, uint8_t, (n), &coap_state_type)
#else
#define COAP_MALLOC_STATE(n) \
    mp_obj_malloc_var_with_finaliser(coap_state_t, uint8_t, (n), &coap_state_type)
#endif

// A handler call prepared under the lock and made after it is released.
typedef struct _coap_call_t {
    mp_obj_t handler;
    mp_obj_t args[5];
} coap_call_t;

// A borrowed byte string taken from a Python argument.
typedef struct _coap_bytes_t {
    const uint8_t *data;
    size_t len;
    char text[24]; // decimal text of a small int
} coap_bytes_t;

extern const mp_obj_module_t mp_module_coap;
static const mp_obj_type_t coap_state_type;
static const mp_obj_type_t coap_resource_type;
static const mp_obj_type_t coap_session_type;

/******************************************************************************/
// Errors

static MP_NORETURN void coap_raise_not_initialised(void) {
    mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("Coap module has not been initialized!"));
}

static MP_NORETURN void coap_raise_os(int errno_, qstr what) {
    mp_obj_t args[2] = { MP_OBJ_NEW_SMALL_INT(errno_), MP_OBJ_NEW_QSTR(what) };
    nlr_raise(mp_obj_new_exception_args(&mp_type_OSError, 2, args));
}

// Raises the exception an engine status maps to, with the engine's message:
// a static printf format that names the argument and the rule, with at most
// one %u for the capacity it names (mpcoap_status_arg), so that the number
// is written once, in the engine. It is passed as the format itself: with
// MICROPY_ROM_TEXT_COMPRESSION, py/objexcept.c decompresses only a format
// whose first byte is 0xff, which no engine message (ASCII text) has; and
// when the heap has no room to format it (or there is nothing to format),
// the exception points at the static string itself, which lives as long as
// the firmware.
static MP_NORETURN void coap_raise_status(int32_t status) {
    const mp_obj_type_t *type;
    switch (mpcoap_status_kind(status)) {
        case MPCOAP_KIND_VALUE:
            type = &mp_type_ValueError;
            break;
        case MPCOAP_KIND_TYPE:
            type = &mp_type_TypeError;
            break;
        case MPCOAP_KIND_MEMORY:
            type = &mp_type_MemoryError;
            break;
        default:
            type = &mp_type_RuntimeError;
            break;
    }
    const char *msg = mpcoap_status_message(status);
    if (strchr(msg, '%') == NULL) {
        // Nothing to fill: the exception refers to the static text instead
        // of formatting a heap copy, which matters most for MemoryError.
        mp_raise_msg(type, (mp_rom_error_text_t)msg);
    }
    mp_raise_msg_varg(type, (mp_rom_error_text_t)msg, (unsigned)mpcoap_status_arg(status));
}

static bool coap_exception_is_oserror(void *exc) {
    const mp_obj_type_t *type = ((mp_obj_base_t *)exc)->type;
    return mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(&mp_type_OSError));
}

/******************************************************************************/
// The state and its root pointer

// The port's millisecond clock (the qemu test firmware brings its own).
static inline uint32_t coap_now(void) {
    return (uint32_t)mp_hal_ticks_ms();
}

// Without a GIL another thread may run init()/deinit() at the same moment,
// so the root pointer is read and swapped atomically there. With a GIL (or
// no threads) the GIL already makes these few C statements atomic.
static coap_state_t *coap_state_peek(void) {
    #if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL
    return __atomic_load_n(&MP_STATE_VM(coap_state), __ATOMIC_ACQUIRE);
    #else
    return MP_STATE_VM(coap_state);
    #endif
}

static bool coap_state_swap(coap_state_t *expected, coap_state_t *desired) {
    #if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL
    return __atomic_compare_exchange_n(&MP_STATE_VM(coap_state), &expected, desired,
        false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    #else
    if (MP_STATE_VM(coap_state) != expected) {
        return false;
    }
    MP_STATE_VM(coap_state) = desired;
    return true;
    #endif
}

// Returns the state with its lock held, or raises "not initialised".
static coap_state_t *coap_lock_state(void) {
    coap_state_t *st = coap_state_peek();
    if (st != NULL) {
        COAP_LOCK(st);
        if (!st->closed) {
            return st;
        }
        COAP_UNLOCK(st);
    }
    coap_raise_not_initialised();
}

// The "not initialised" check, for functions that convert arguments (which
// can raise) before they take the lock for the real work.
static void coap_require_initialised(void) {
    coap_state_t *st = coap_lock_state();
    COAP_UNLOCK(st);
}

static bool coap_is_closed(coap_state_t *st) {
    COAP_LOCK(st);
    bool closed = st->closed;
    COAP_UNLOCK(st);
    return closed;
}

/******************************************************************************/
// The engine's storage (mpcoap.h, "storage")

// Supplies the blocks an engine call asked for (lock held), or refuses
// them when the heap cannot (the call then fails with MPCOAP_ERR_NO_MEMORY, or
// receive answers 5.03). It runs between two engine calls, never inside
// one, and m_malloc_maybe() never raises; allocating with the lock held is
// safe (see coap_new_bytes_locked). The block is an ordinary GC block,
// scanned: the engine keeps it, and the pointers inside it, reachable from
// the engine block.
static void coap_supply(coap_state_t *st) {
    size_t n;
    while ((n = mpcoap_storage_need(st->engine)) > 0) {
        void *block = NULL;
        // _fail_storage(k): the k-th supply from then on refuses.
        bool fail = st->fail_storage > 0 && --st->fail_storage == 0;
        if (!fail) {
            block = m_malloc_maybe(n);
        }
        if (block == NULL || mpcoap_storage_grant(st->engine, block, n) < 0) {
            if (block != NULL) {
                m_del(uint8_t, block, n); // m_del: both m_free() signatures (1.26 vs 1.27+)
            }
            mpcoap_storage_refuse(st->engine);
            return;
        }
    }
}

// Frees every block the engine no longer uses (lock held). Called after
// each engine call that can release storage, once the bytes its event or
// value pointers refer to have been copied (they never point into such a
// block, but nothing is freed under a pointer still in use). Blocks left
// behind when a copy raised are freed by the next call.
static void coap_give_back(coap_state_t *st) {
    size_t n;
    void *block;
    while ((block = mpcoap_storage_take(st->engine, &n)) != NULL) {
        m_del(uint8_t, block, n);
    }
}

// rc = call, repeated while the engine asks for storage (lock held). The
// call must be repeatable as is: same engine, same arguments, same lock
// hold. The engine asks at most a bounded number of times, and never again
// after a refusal.
#define COAP_ENGINE_CALL(st, rc, call) do { \
        (rc) = (call); \
        while ((rc) == MPCOAP_NEED_STORAGE) { \
            coap_supply(st); \
            (rc) = (call); \
        } \
} while (0)

// The index-th session object in creation order, NULL past the end (lock
// held).
static coap_session_obj_t *coap_session_at(coap_state_t *st, size_t index) {
    return (coap_session_obj_t *)mpcoap_session_user(st->engine, index);
}

// The index-th session object to `peer` in creation order, NULL past the
// end (lock held).
static coap_session_obj_t *coap_session_to(coap_state_t *st, const mpcoap_endpoint_t *peer, size_t index) {
    return (coap_session_obj_t *)mpcoap_session_user_to(st->engine, peer, index);
}

// The object behind a user word (a resource or a session) no longer has an
// engine counterpart: its methods raise, value() returns None.
static void coap_detach_user(uintptr_t user) {
    // Both object structs keep `st` at the same offset.
    MP_STATIC_ASSERT(offsetof(coap_resource_obj_t, st) == offsetof(coap_session_obj_t, st));
    if (user != 0) {
        ((coap_resource_obj_t *)user)->st = NULL;
    }
}

// Copies engine-owned bytes into a new bytes object while the lock is held
// (engine pointers are valid only until the next engine call, which another
// thread may make as soon as the lock is released).
//
// Allocating with the lock held cannot deadlock: a collection triggered here
// runs finalisers, and the only finaliser of this module (coap_state_del)
// takes no lock. It runs only for states nobody references (or during the
// soft-reset sweep, when no other thread runs), and MicroPython runs no
// Python-level __del__ of user classes. With a GIL, the lock holder also
// holds the GIL and never releases it while holding the lock, so no other
// thread can even try to take the lock meanwhile.
//
// EXCEPTION: can raise MemoryError; the lock is released first (and the
// storage the engine released is freed: the copy is given up).
static mp_obj_t coap_new_bytes_locked(coap_state_t *st, const uint8_t *data, size_t len) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t o = mp_obj_new_bytes(data, len);
        nlr_pop();
        return o;
    }
    coap_give_back(st);
    COAP_UNLOCK(st);
    nlr_jump(nlr.ret_val);
}

// A new list of n items, to be filled before the lock is released.
// EXCEPTION: can raise MemoryError; the lock is released first.
static mp_obj_list_t *coap_new_list_locked(coap_state_t *st, size_t n) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t o = mp_obj_new_list(n, NULL);
        nlr_pop();
        return MP_OBJ_TO_PTR(o);
    }
    COAP_UNLOCK(st);
    nlr_jump(nlr.ret_val);
}

// Turns an engine event into a handler call (lock held). A deleted resource
// is detached here. Returns true if the handler must be called.
// EXCEPTION: can raise MemoryError; the lock is released first.
static bool coap_take_event(coap_state_t *st, const mpcoap_event_t *ev, coap_call_t *call) {
    if (ev->kind == MPCOAP_EVENT_RESOURCE_DELETED) {
        coap_detach_user(ev->user);
        return false;
    }
    if (ev->kind != MPCOAP_EVENT_RESPONSE) {
        return false;
    }
    // The response to an awaited request goes to its callback only. The
    // lookup of a bytes key among bytes keys raises nothing.
    mp_obj_t handler = st->handler;
    mp_obj_t token = MP_OBJ_NULL;
    if (st->awaited != MP_OBJ_NULL) {
        token = coap_new_bytes_locked(st, ev->token, ev->token_len);
        mp_map_elem_t *awaited = mp_map_lookup(mp_obj_dict_get_map(st->awaited), token, MP_MAP_LOOKUP);
        if (awaited != NULL) {
            handler = awaited->value;
        }
    }
    if (handler == mp_const_none) {
        return false;
    }
    call->handler = handler;
    call->args[0] = MP_OBJ_NEW_SMALL_INT(ev->code);
    call->args[1] = MP_OBJ_NEW_SMALL_INT(ev->mid);
    call->args[2] = MP_OBJ_NEW_SMALL_INT(ev->type);
    call->args[3] = token != MP_OBJ_NULL ? token : coap_new_bytes_locked(st, ev->token, ev->token_len);
    call->args[4] = coap_new_bytes_locked(st, ev->payload, ev->payload_len);
    return true;
}

/******************************************************************************/
// Arguments

static bool coap_parse_ipv4(const char *s, size_t len, uint8_t out[4]) {
    size_t part = 0;
    uint32_t value = 0;
    size_t digits = 0;
    for (size_t i = 0; i <= len; ++i) {
        if (i == len || s[i] == '.') {
            if (digits == 0 || part > 3) {
                return false;
            }
            out[part++] = (uint8_t)value;
            value = 0;
            digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
            value = value * 10 + (uint32_t)(s[i] - '0');
            if (value > 255) {
                return false;
            }
            ++digits;
        } else {
            return false;
        }
    }
    return part == 4;
}

// EXCEPTION: raises TypeError/ValueError naming `arg`.
static void coap_get_ipv4(mp_obj_t obj, qstr arg, uint8_t out[4]) {
    if (!mp_obj_is_str(obj)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("\"%q\" must be a str"), arg);
    }
    size_t len;
    const char *s = mp_obj_str_get_data(obj, &len);
    if (!coap_parse_ipv4(s, len, out)) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("\"%q\" must be an IPv4 address like \"192.168.0.10\""), arg);
    }
}

// EXCEPTION: raises ValueError naming `arg`.
static uint16_t coap_get_port(mp_int_t port, qstr arg, mp_int_t min) {
    if (port < min || port > 65535) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("\"%q\" must be %d..65535"), arg, (int)min);
    }
    return (uint16_t)port;
}

// An int argument, taken as an object so that an int too big for a machine
// word (2**31 on 32-bit ports) is "out of range" like any other, not an
// OverflowError. False if outside min..max.
// EXCEPTION: raises TypeError if not an int.
static bool coap_get_int_in(mp_obj_t obj, mp_int_t min, mp_int_t max, mp_int_t *out) {
    if (!mp_obj_is_small_int(obj) && mp_obj_is_int(obj)) {
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            *out = mp_obj_int_get_checked(obj);
            nlr_pop();
        } else {
            *out = mp_obj_int_sign(obj) < 0 ? MP_SMALL_INT_MIN : MP_SMALL_INT_MAX;
            return false;
        }
    } else {
        *out = mp_obj_get_int(obj);
    }
    return *out >= min && *out <= max;
}

// EXCEPTION: raises TypeError/ValueError naming `arg`.
static uint16_t coap_get_port_arg(mp_obj_t obj, qstr arg, mp_int_t min) {
    mp_int_t port;
    if (!coap_get_int_in(obj, min, 65535, &port)) {
        coap_get_port(-1, arg, min); // raises
    }
    return (uint16_t)port;
}

static mp_obj_t coap_ipv4_str(const uint8_t addr[4]) {
    char buf[16];
    size_t n = 0;
    for (size_t i = 0; i < 4; ++i) {
        unsigned v = addr[i];
        if (v >= 100) {
            buf[n++] = '0' + v / 100;
        }
        if (v >= 10) {
            buf[n++] = '0' + (v / 10) % 10;
        }
        buf[n++] = '0' + v % 10;
        buf[n++] = '.';
    }
    return mp_obj_new_str(buf, n - 1);
}

// A text argument (uri, attribute name): str as UTF-8, or bytes.
// EXCEPTION: raises TypeError naming `arg`.
static void coap_get_text(mp_obj_t obj, qstr arg, coap_bytes_t *out) {
    if (!mp_obj_is_str_or_bytes(obj)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("\"%q\" must be a str"), arg);
    }
    out->data = (const uint8_t *)mp_obj_str_get_data(obj, &out->len);
}

// A value: str as UTF-8, any buffer as is, int or bool as decimal text
// (so the default value 0 reads "0"). None gives the empty string if
// `none_ok`. The bytes stay borrowed from `obj` (or `out`, or a new str).
// EXCEPTION: raises TypeError naming `arg`; can allocate (big ints).
static void coap_get_value(mp_obj_t obj, qstr arg, bool allow_int, bool none_ok, coap_bytes_t *out) {
    mp_buffer_info_t bufinfo;
    if (none_ok && obj == mp_const_none) {
        out->data = NULL;
        out->len = 0;
    } else if (mp_obj_is_str(obj)) {
        out->data = (const uint8_t *)mp_obj_str_get_data(obj, &out->len);
    } else if (allow_int && mp_obj_is_small_int(obj)) {
        mp_int_t v = MP_OBJ_SMALL_INT_VALUE(obj);
        mp_uint_t u = v < 0 ? -(mp_uint_t)v : (mp_uint_t)v;
        size_t i = sizeof(out->text);
        do {
            out->text[--i] = '0' + u % 10;
            u /= 10;
        } while (u != 0);
        if (v < 0) {
            out->text[--i] = '-';
        }
        out->data = (const uint8_t *)&out->text[i];
        out->len = sizeof(out->text) - i;
    } else if (allow_int && mp_obj_is_bool(obj)) {
        out->text[0] = obj == mp_const_true ? '1' : '0';
        out->data = (const uint8_t *)out->text;
        out->len = 1;
    } else if (allow_int && mp_obj_is_int(obj)) {
        // A big int: its str() is its decimal text.
        mp_obj_t s = mp_obj_str_make_new(&mp_type_str, 1, 0, &obj); // EXCEPTION: MemoryError
        out->data = (const uint8_t *)mp_obj_str_get_data(s, &out->len);
    } else if (mp_get_buffer(obj, &bufinfo, MP_BUFFER_READ)) {
        out->data = bufinfo.buf;
        out->len = bufinfo.len;
    } else if (allow_int) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("\"%q\" must be str, bytes-like or int"), arg);
    } else {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("\"%q\" must be str or bytes-like"), arg);
    }
}

// An int argument in -1..2**32-1 (a big int on 32-bit ports above 2**30)
// into *out; false if outside (*out is then -2).
// EXCEPTION: raises TypeError if not an int.
static bool coap_get_u32_or_minus_one(mp_obj_t obj, int64_t *out) {
    *out = -2;
    if (mp_obj_is_small_int(obj)) {
        mp_int_t v = MP_OBJ_SMALL_INT_VALUE(obj);
        if (v >= -1 && (v < 0 || (uint64_t)v <= 0xffffffffu)) {
            *out = v;
        }
    } else if (mp_obj_is_int(obj)) {
        // Too big for a small int: valid only if it fits an unsigned 32-bit.
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            mp_uint_t v = mp_obj_int_get_uint_checked(obj);
            nlr_pop();
            if ((uint64_t)v <= 0xffffffffu) {
                *out = (int64_t)v;
            }
        }
    } else {
        mp_obj_get_int(obj); // raises MicroPython's TypeError
    }
    return *out != -2;
}

// max_age: -1 (absent) or 0..2**32-1.
// EXCEPTION: raises TypeError (not an int) or ValueError (out of range).
static int64_t coap_get_max_age(mp_obj_t obj) {
    int64_t v;
    if (!coap_get_u32_or_minus_one(obj, &v)) {
        coap_raise_status(MPCOAP_ERR_MAX_AGE);
    }
    return v;
}

/******************************************************************************/
// Sockets, through MicroPython's own socket module

// The built-in socket module (immune to a socket.py on the filesystem), or
// MP_OBJ_NULL on a port without one.
static mp_obj_t coap_socket_module_maybe(void) {
    mp_obj_t mod = mp_module_get_builtin(MP_QSTR_socket, true);
    if (mod == MP_OBJ_NULL) {
        mod = mp_module_get_builtin(MP_QSTR_socket, false);
    }
    return mod;
}

// EXCEPTION: raises OSError(ENODEV) on a port without a socket module.
static mp_obj_t coap_socket_module(void) {
    mp_obj_t mod = coap_socket_module_maybe();
    if (mod == MP_OBJ_NULL) {
        coap_raise_os(MP_ENODEV, MP_QSTR_socket);
    }
    return mod;
}

// A constant of the socket module, or `fallback` if it has none.
static mp_obj_t coap_socket_const(mp_obj_t mod, qstr name, mp_int_t fallback) {
    mp_obj_t dest[2];
    mp_load_method_maybe(mod, name, dest);
    return dest[0] != MP_OBJ_NULL ? dest[0] : MP_OBJ_NEW_SMALL_INT(fallback);
}

// EXCEPTION: can raise (whatever the method raises).
static mp_obj_t coap_call_method(mp_obj_t obj, qstr name, size_t n_args, const mp_obj_t *args) {
    mp_obj_t dest[2 + 3];
    assert(n_args <= 3);
    mp_load_method(obj, name, dest);
    for (size_t i = 0; i < n_args; ++i) {
        dest[2 + i] = args[i];
    }
    return mp_call_method_n_kw(n_args, 0, dest);
}

// The address of ip:port in the form this port's sendto()/bind() take: raw
// sockaddr bytes on unix, an (ip, port) tuple on esp32. getaddrinfo() gives
// the right form on every port.
// EXCEPTION: can raise (OSError).
static mp_obj_t coap_make_address(mp_obj_t mod, mp_obj_t ip_str, mp_int_t port) {
    mp_obj_t args[2] = { ip_str, MP_OBJ_NEW_SMALL_INT(port) };
    mp_obj_t list = mp_call_function_n_kw(mp_load_attr(mod, MP_QSTR_getaddrinfo), 2, 0, args);
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(list, &n, &items);
    if (n == 0) {
        coap_raise_os(MP_ENODEV, MP_QSTR_getaddrinfo);
    }
    mp_obj_get_array(items[0], &n, &items);
    return items[n - 1];
}

// Decodes an address object as recvfrom() returns it: sockaddr_in bytes
// (unix) or an (ip, port) tuple (esp32). False for anything else (IPv6).
static bool coap_address_to_peer(mp_obj_t addr, mpcoap_endpoint_t *peer) {
    if (mp_obj_is_type(addr, &mp_type_tuple) || mp_obj_is_type(addr, &mp_type_list)) {
        size_t n;
        mp_obj_t *items;
        mp_obj_get_array(addr, &n, &items);
        // Any int: frozen code can hold a port such as 40000 as a big int.
        mp_int_t port;
        if (n != 2 || !mp_obj_is_str(items[0]) || !mp_obj_get_int_maybe(items[1], &port)) {
            return false;
        }
        size_t len;
        const char *s = mp_obj_str_get_data(items[0], &len);
        if (!coap_parse_ipv4(s, len, peer->addr) || port < 0 || port > 65535) {
            return false;
        }
        peer->port = (uint16_t)port;
        return true;
    }
    mp_buffer_info_t bufinfo;
    if (!mp_get_buffer(addr, &bufinfo, MP_BUFFER_READ) || bufinfo.len < 8) {
        return false;
    }
    // struct sockaddr_in: family (host order, AF_INET = 2), port, address;
    // BSD-derived systems have a length byte (16) and a family byte instead.
    const uint8_t *b = bufinfo.buf;
    uint16_t family;
    memcpy(&family, b, sizeof(family));
    if (family != 2 && !(b[0] == 16 && b[1] == 2)) {
        return false;
    }
    peer->port = (uint16_t)((b[2] << 8) | b[3]);
    memcpy(peer->addr, b + 4, 4);
    return true;
}

static bool coap_peer_equal(const mpcoap_endpoint_t *a, const mpcoap_endpoint_t *b) {
    return a->port == b->port && memcmp(a->addr, b->addr, 4) == 0;
}

// Closes a socket; errors are of no interest any more.
static void coap_socket_close(mp_obj_t sock) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_stream_close(sock);
        nlr_pop();
    }
}

// Opens a non-blocking UDP socket bound to ip:port, joined to a multicast
// group if `mreq` (group + interface address, 8 bytes) is given. `shared`
// sets SO_REUSEADDR, so that with service discovery a server bound to
// 0.0.0.0 and the group socket can share the port.
// EXCEPTION: can raise (OSError); nothing stays open then.
static mp_obj_t coap_socket_open(const uint8_t ip[4], mp_int_t port, const uint8_t *mreq, bool shared) {
    mp_obj_t mod = coap_socket_module();
    mp_obj_t args[3] = {
        mp_load_attr(mod, MP_QSTR_AF_INET),
        mp_load_attr(mod, MP_QSTR_SOCK_DGRAM),
    };
    mp_obj_t sock = mp_call_function_n_kw(mp_load_attr(mod, MP_QSTR_socket), 2, 0, args);
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        args[0] = mp_const_false;
        coap_call_method(sock, MP_QSTR_setblocking, 1, args);
        if (shared) {
            args[0] = mp_load_attr(mod, MP_QSTR_SOL_SOCKET);
            args[1] = mp_load_attr(mod, MP_QSTR_SO_REUSEADDR);
            args[2] = MP_OBJ_NEW_SMALL_INT(1);
            coap_call_method(sock, MP_QSTR_setsockopt, 3, args);
        }
        args[0] = coap_make_address(mod, coap_ipv4_str(ip), port);
        coap_call_method(sock, MP_QSTR_bind, 1, args);
        if (mreq != NULL) {
            args[0] = coap_socket_const(mod, MP_QSTR_IPPROTO_IP, COAP_LINUX_IPPROTO_IP);
            args[1] = coap_socket_const(mod, MP_QSTR_IP_ADD_MEMBERSHIP, COAP_LINUX_IP_ADD_MEMBERSHIP);
            args[2] = mp_obj_new_bytes(mreq, 8);
            coap_call_method(sock, MP_QSTR_setsockopt, 3, args);
        }
        nlr_pop();
    } else {
        coap_socket_close(sock);
        nlr_jump(nlr.ret_val);
    }
    return sock;
}

// Takes a snapshot of the socket slots and counts this thread as a socket
// user, so that deinit() does not close them under it. False (nothing
// taken) once the module is closed.
static bool coap_sockets_acquire(coap_state_t *st, mp_obj_t socks[COAP_SOCK_COUNT], uint16_t *gen) {
    COAP_LOCK(st);
    bool ok = !st->closed;
    if (ok) {
        memcpy(socks, st->sock, sizeof(st->sock));
        if (gen != NULL) {
            *gen = st->sockets_gen;
        }
        st->sock_users++;
    }
    COAP_UNLOCK(st);
    return ok;
}

// The last user after deinit() closes the sockets (deinit() waits for
// `closing` to clear, so its caller can bind the port again at once).
static void coap_sockets_release(coap_state_t *st) {
    mp_obj_t closing[COAP_SOCK_COUNT] = { MP_OBJ_NULL };
    COAP_LOCK(st);
    bool last = --st->sock_users == 0 && st->closed;
    if (last) {
        memcpy(closing, st->sock, sizeof(st->sock));
        memset(st->sock, 0, sizeof(st->sock));
        st->closing = true;
    }
    COAP_UNLOCK(st);
    if (last) {
        for (size_t i = 0; i < COAP_SOCK_COUNT; ++i) {
            if (closing[i] != MP_OBJ_NULL) {
                coap_socket_close(closing[i]);
            }
        }
        COAP_LOCK(st);
        st->closing = false;
        COAP_UNLOCK(st);
    }
}

// Makes sure there is a socket to send from: the client socket (ephemeral
// port) is created by the first request when no server socket exists.
// EXCEPTION: can raise (OSError, e.g. on a port without sockets).
static void coap_ensure_socket(coap_state_t *st) {
    COAP_LOCK(st);
    bool have = st->sock[COAP_SOCK_SERVER] != MP_OBJ_NULL || st->sock[COAP_SOCK_CLIENT] != MP_OBJ_NULL;
    COAP_UNLOCK(st);
    if (have) {
        return;
    }
    static const uint8_t any[4] = {0, 0, 0, 0};
    mp_obj_t sock = coap_socket_open(any, 0, NULL, false);
    COAP_LOCK(st);
    // Another thread may have been quicker, or deinit() may have run.
    have = st->closed || st->sock[COAP_SOCK_SERVER] != MP_OBJ_NULL || st->sock[COAP_SOCK_CLIENT] != MP_OBJ_NULL;
    if (!have) {
        st->sock[COAP_SOCK_CLIENT] = sock;
        st->sockets_gen++;
    }
    COAP_UNLOCK(st);
    if (have) {
        coap_socket_close(sock);
    }
}

// True if a datagram (or an error, which recvfrom() then reports) waits on
// the socket. Asks the stream's poll ioctl, which allocates nothing; a
// socket without one is simply tried.
static bool coap_socket_ready(mp_obj_t sock) {
    const mp_stream_p_t *stream = MP_OBJ_TYPE_GET_SLOT_OR_NULL(mp_obj_get_type(sock), protocol);
    if (stream == NULL || stream->ioctl == NULL) {
        return true;
    }
    int err;
    mp_uint_t ret = stream->ioctl(sock, MP_STREAM_POLL, MP_STREAM_POLL_RD, &err);
    return ret == MP_STREAM_ERROR || (ret & (MP_STREAM_POLL_RD | MP_STREAM_POLL_ERR | MP_STREAM_POLL_HUP)) != 0;
}

// Sends buf[0..len] from the main socket to `addr`, or to `peer` when addr
// is NULL (its address object is then made and cached in the sessions of
// that peer). A send that fails with OSError is a lost datagram, which CoAP
// copes with (CON requests are retransmitted), so it is dropped.
//
// buf is passed to sendto() as a bytearray that lives on this C stack and
// points at buf, so no datagram costs an allocation: sendto() only reads the
// buffer during the call and keeps no reference to its argument, and buf
// itself (inside the state object) stays reachable through the state.
// EXCEPTION: can raise (anything but OSError, e.g. KeyboardInterrupt from a
// retried system call).
static void coap_send(coap_state_t *st, uint8_t *buf, size_t len, mp_obj_t addr, const mpcoap_endpoint_t *peer) {
    mp_obj_t socks[COAP_SOCK_COUNT];
    if (!coap_sockets_acquire(st, socks, NULL)) {
        return;
    }
    mp_obj_t sock = socks[COAP_SOCK_SERVER] != MP_OBJ_NULL ? socks[COAP_SOCK_SERVER] : socks[COAP_SOCK_CLIENT];
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        if (sock != MP_OBJ_NULL) {
            if (addr == MP_OBJ_NULL) {
                addr = coap_make_address(coap_socket_module(), coap_ipv4_str(peer->addr), peer->port);
                COAP_LOCK(st);
                if (!st->closed) {
                    coap_session_obj_t *ses;
                    for (size_t i = 0; (ses = coap_session_to(st, peer, i)) != NULL; ++i) {
                        if (ses->addr == MP_OBJ_NULL) {
                            ses->addr = addr;
                        }
                    }
                }
                COAP_UNLOCK(st);
            }
            mp_obj_array_t data = { { &mp_type_bytearray }, BYTEARRAY_TYPECODE, 0, len, buf };
            mp_obj_t args[2] = { MP_OBJ_FROM_PTR(&data), addr };
            coap_call_method(sock, MP_QSTR_sendto, 2, args);
        }
        nlr_pop();
        coap_sockets_release(st);
    } else {
        coap_sockets_release(st);
        if (!coap_exception_is_oserror(nlr.ret_val)) {
            nlr_jump(nlr.ret_val);
        }
    }
}

// An address object for `peer` that is already known (lock held): a
// session's, or the one of the last datagram received.
static mp_obj_t coap_known_address(coap_state_t *st, const mpcoap_endpoint_t *peer) {
    coap_session_obj_t *ses;
    for (size_t i = 0; (ses = coap_session_to(st, peer, i)) != NULL; ++i) {
        if (ses->addr != MP_OBJ_NULL) {
            return ses->addr;
        }
    }
    if (st->last_addr != MP_OBJ_NULL && coap_peer_equal(&st->last_peer, peer)) {
        return st->last_addr;
    }
    return MP_OBJ_NULL;
}

// tx[] ownership. One thread at a time owns tx[] (tx_busy) from the engine
// call that fills it until the datagram has left.

static void coap_tx_release(coap_state_t *st) {
    COAP_LOCK(st);
    st->tx_busy = false;
    COAP_UNLOCK(st);
}

// Sends everything the engine has due (requests, retransmissions, delayed
// responses) from tx[], which the caller owns; gives tx[] back in all cases.
// tx_busy is cleared in the same critical section as the engine's last
// "nothing due" answer, so a thread that found tx[] taken (and left its
// datagrams to the owner) never has one left behind.
// EXCEPTION: can raise (see coap_send).
static void coap_transmit_due(coap_state_t *st) {
    COAP_LOCK(st);
    for (;;) {
        mpcoap_endpoint_t dest;
        int32_t n = 0;
        if (!st->closed && !st->capture) {
            n = mpcoap_engine_poll_transmit(st->engine, coap_now(), st->tx, sizeof(st->tx), &dest);
            coap_give_back(st);
        }
        if (n <= 0) {
            break;
        }
        mp_obj_t addr = coap_known_address(st, &dest);
        COAP_UNLOCK(st);
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            coap_send(st, st->tx, (size_t)n, addr, &dest);
            nlr_pop();
        } else {
            coap_tx_release(st);
            nlr_jump(nlr.ret_val);
        }
        COAP_LOCK(st);
    }
    st->tx_busy = false;
    COAP_UNLOCK(st);
}

// Sends what is due unless another thread is sending (it will send ours).
// EXCEPTION: can raise (see coap_send).
static void coap_flush(coap_state_t *st) {
    COAP_LOCK(st);
    bool take = !st->closed && !st->tx_busy;
    st->tx_busy |= take;
    COAP_UNLOCK(st);
    if (take) {
        coap_transmit_due(st);
    }
}

// Takes tx[] for the engine's reply to a received datagram, waiting while
// another thread sends from it (one sendto(); the wait releases the GIL so
// that thread can finish). Returns with the lock held, or false (lock not
// held) once the module is closed.
// EXCEPTION: can raise (KeyboardInterrupt while waiting); lock not held.
static bool coap_tx_acquire_locked(coap_state_t *st) {
    for (;;) {
        COAP_LOCK(st);
        if (st->closed) {
            COAP_UNLOCK(st);
            return false;
        }
        if (!st->tx_busy) {
            st->tx_busy = true;
            return true;
        }
        COAP_UNLOCK(st);
        mp_event_wait_ms(1);
    }
}

/******************************************************************************/
// Receiving and read()

// Delivers the events that time produces (requests that gave up), then
// sends what is due (retransmissions).
// EXCEPTION: can raise (from the response handler).
static void coap_service_timers(coap_state_t *st) {
    for (;;) {
        coap_call_t call;
        mpcoap_event_t ev;
        COAP_LOCK(st);
        if (st->closed) {
            COAP_UNLOCK(st);
            return;
        }
        int32_t r = mpcoap_engine_poll_event(st->engine, coap_now(), &ev);
        bool deliver = r == 1 && coap_take_event(st, &ev, &call); // EXCEPTION: MemoryError, unlocked
        coap_give_back(st); // a request that gave up
        COAP_UNLOCK(st);
        if (r != 1) {
            break;
        }
        if (deliver) {
            mp_call_function_n_kw(call.handler, 5, 0, call.args); // EXCEPTION: can raise
        }
    }
    coap_flush(st);
}

// Receives one waiting datagram from any socket. False if none waits.
// EXCEPTION: can raise (KeyboardInterrupt); an OSError of recvfrom() only
// means that socket has nothing.
static bool coap_receive_one(coap_state_t *st, mp_obj_t *data, mp_obj_t *addr, bool *via_multicast) {
    // Multicast first: where the server socket is bound to 0.0.0.0 (Linux)
    // a group datagram reaches both sockets, and the copy handled first
    // decides (the other is a duplicate), so it must be the multicast one.
    static const uint8_t order[COAP_SOCK_COUNT] = { COAP_SOCK_MULTICAST, COAP_SOCK_SERVER, COAP_SOCK_CLIENT };
    mp_obj_t socks[COAP_SOCK_COUNT];
    if (!coap_sockets_acquire(st, socks, NULL)) {
        return false;
    }
    volatile bool got = false; // volatile: set between nlr_push and a possible nlr_jump
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        for (size_t i = 0; i < COAP_SOCK_COUNT && !got; ++i) {
            mp_obj_t sock = socks[order[i]];
            if (sock == MP_OBJ_NULL || !coap_socket_ready(sock)) {
                continue;
            }
            nlr_buf_t nlr2;
            if (nlr_push(&nlr2) == 0) {
                // One byte more than fits, to tell an oversize datagram
                // (the rest of it is discarded by the socket).
                mp_obj_t arg = MP_OBJ_NEW_SMALL_INT(MPCOAP_MESSAGE_MAX + 1);
                mp_obj_t t = coap_call_method(sock, MP_QSTR_recvfrom, 1, &arg);
                size_t n;
                mp_obj_t *items;
                mp_obj_get_array(t, &n, &items);
                if (n == 2) {
                    *data = items[0];
                    *addr = items[1];
                    *via_multicast = order[i] == COAP_SOCK_MULTICAST;
                    got = true;
                }
                nlr_pop();
            } else if (!coap_exception_is_oserror(nlr2.ret_val)) {
                nlr_jump(nlr2.ret_val);
            }
        }
        nlr_pop();
        coap_sockets_release(st);
    } else {
        coap_sockets_release(st);
        nlr_jump(nlr.ret_val);
    }
    return got;
}

// Runs one received datagram through the engine, sends the engine's reply
// to the address it came from, then what else is due, then calls the
// response handler. Returns 1 if the engine saw the datagram, 0 if it was
// dropped before (not IPv4, module closed). An oversize datagram arrives
// here truncated to one byte more than a message, which tells the engine
// (a request gets 4.13).
// EXCEPTION: can raise (from the handler).
static mp_int_t coap_handle_datagram(coap_state_t *st, mp_obj_t data, mp_obj_t addr, bool via_multicast) {
    mp_buffer_info_t bufinfo;
    mpcoap_endpoint_t from;
    if (!mp_get_buffer(data, &bufinfo, MP_BUFFER_READ) || !coap_address_to_peer(addr, &from)) {
        return 0;
    }
    if (!coap_tx_acquire_locked(st)) {
        return 0;
    }
    coap_call_t call;
    bool deliver;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mpcoap_event_t ev;
        size_t reply_len = 0;
        uint32_t now = coap_now(); // the same for every repetition
        int32_t r;
        COAP_ENGINE_CALL(st, r, mpcoap_engine_receive(st->engine, now, &from, via_multicast,
            bufinfo.buf, bufinfo.len, st->tx, sizeof(st->tx), &reply_len, &ev));
        if (r < 0) {
            reply_len = 0;
        }
        st->last_peer = from;
        st->last_addr = addr;
        deliver = r == 1 && coap_take_event(st, &ev, &call); // EXCEPTION: MemoryError, unlocked
        coap_give_back(st);
        COAP_UNLOCK(st);
        if (reply_len > 0) {
            coap_send(st, st->tx, reply_len, addr, &from); // EXCEPTION: not OSError
        }
        nlr_pop();
    } else {
        coap_tx_release(st);
        nlr_jump(nlr.ret_val);
    }
    coap_transmit_due(st); // gives tx[] back
    if (deliver) {
        mp_call_function_n_kw(call.handler, 5, 0, call.args); // EXCEPTION: can raise
    }
    return 1;
}

// Waits up to `ms` for a datagram on any socket, with the GIL released,
// through MicroPython's own select.poll (a real poll(2) on unix). Without
// sockets (or without a select module) it waits in mp_event_wait_ms steps.
// EXCEPTION: can raise (KeyboardInterrupt).
static void coap_wait(coap_state_t *st, uint32_t ms) {
    mp_obj_t socks[COAP_SOCK_COUNT];
    uint16_t gen;
    if (!coap_sockets_acquire(st, socks, &gen)) {
        return;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        bool any = false;
        for (size_t i = 0; i < COAP_SOCK_COUNT; ++i) {
            any |= socks[i] != MP_OBJ_NULL;
        }
        if (any && st->poller == MP_OBJ_NULL) {
            mp_obj_t select = mp_module_get_builtin(MP_QSTR_select, true);
            if (select == MP_OBJ_NULL) {
                select = mp_module_get_builtin(MP_QSTR_select, false);
            }
            if (select != MP_OBJ_NULL) {
                st->poller = mp_call_function_0(mp_load_attr(select, MP_QSTR_poll));
                st->poller_gen = gen - 1;
            }
        }
        if (!any) {
            mp_event_wait_ms(ms);
        } else if (st->poller != MP_OBJ_NULL) {
            if (st->poller_gen != gen) {
                // Register every socket; register() of a known one is harmless.
                for (size_t i = 0; i < COAP_SOCK_COUNT; ++i) {
                    if (socks[i] != MP_OBJ_NULL) {
                        mp_obj_t args[2] = { socks[i], MP_OBJ_NEW_SMALL_INT(MP_STREAM_POLL_RD) };
                        coap_call_method(st->poller, MP_QSTR_register, 2, args);
                    }
                }
                st->poller_gen = gen;
            }
            // ipoll() returns the poll object itself: nothing is allocated.
            mp_obj_t arg = MP_OBJ_NEW_SMALL_INT(ms);
            coap_call_method(st->poller, MP_QSTR_ipoll, 1, &arg);
        } else {
            uint32_t start = coap_now();
            for (;;) {
                bool ready = false;
                for (size_t i = 0; i < COAP_SOCK_COUNT; ++i) {
                    ready |= socks[i] != MP_OBJ_NULL && coap_socket_ready(socks[i]);
                }
                if (ready || coap_now() - start >= ms) {
                    break;
                }
                mp_event_wait_ms(1);
            }
        }
        nlr_pop();
        coap_sockets_release(st);
    } else {
        coap_sockets_release(st);
        nlr_jump(nlr.ret_val);
    }
}

// True if the engine has a timer due now.
static bool coap_timers_due(coap_state_t *st) {
    COAP_LOCK(st);
    bool due = !st->closed && mpcoap_engine_next_timeout(st->engine, coap_now()) == 0;
    COAP_UNLOCK(st);
    return due;
}

// One pass of read() and of coap_asyncio.serve(): the timers, then what is
// waiting, at most `max` datagrams, until `timeout` ms after `start` (0: no
// limit) and for at most COAP_DRAIN_MS: under a flood there is always more.
// Timers that fall due meanwhile (give-ups; retransmissions also go out
// after each datagram) are serviced at once. Returns the datagrams handled.
// EXCEPTION: can raise (from the handler, KeyboardInterrupt).
static mp_int_t coap_drain(coap_state_t *st, mp_int_t max, uint32_t start, uint32_t timeout) {
    coap_service_timers(st);
    uint32_t drain_start = coap_now();
    mp_int_t handled = 0;
    mp_obj_t data = MP_OBJ_NULL, addr = MP_OBJ_NULL;
    bool via_multicast = false;
    for (mp_int_t n = 0; n < max && coap_receive_one(st, &data, &addr, &via_multicast); ++n) {
        handled += coap_handle_datagram(st, data, addr, via_multicast);
        if (coap_timers_due(st)) {
            coap_service_timers(st);
        }
        uint32_t now = coap_now();
        if ((timeout > 0 && now - start >= timeout) || now - drain_start >= COAP_DRAIN_MS) {
            break;
        }
    }
    return handled;
}

// The body of read(), run by the one thread allowed in it.
// EXCEPTION: can raise (from the handler, KeyboardInterrupt).
static mp_int_t coap_read_loop(coap_state_t *st, uint32_t timeout) {
    uint32_t start = coap_now();
    mp_int_t handled = 0;
    for (;;) {
        handled += coap_drain(st, MP_SMALL_INT_MAX, start, timeout);
        if (handled > 0 || coap_is_closed(st)) {
            break;
        }
        uint32_t wait = COAP_WAIT_SLICE_MS;
        if (timeout > 0) {
            uint32_t elapsed = coap_now() - start;
            if (elapsed >= timeout) {
                break;
            }
            if (timeout - elapsed < wait) {
                wait = timeout - elapsed;
            }
        }
        COAP_LOCK(st);
        int32_t next = st->closed ? -1 : mpcoap_engine_next_timeout(st->engine, coap_now());
        COAP_UNLOCK(st);
        if (next >= 0 && (uint32_t)next < wait) {
            // Wake for the next retransmission; 1 ms at least, so an engine
            // that keeps saying "due now" cannot make this spin.
            wait = next > 0 ? (uint32_t)next : 1;
        }
        coap_wait(st, wait);
    }
    return handled;
}

/******************************************************************************/
// Module functions

// init(address=None, *, port=5683, service_discovery=False, remote_budget=REMOTE_BUDGET)
static mp_obj_t coap_init(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_address, ARG_port, ARG_service_discovery, ARG_remote_budget };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_address, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_port, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(5683)} },
        { MP_QSTR_service_discovery, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_remote_budget, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);

    if (coap_state_peek() != NULL) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("Coap module already initialized!"));
    }
    bool server = args[ARG_address].u_obj != mp_const_none;
    uint8_t address[4];
    if (server) {
        coap_get_ipv4(args[ARG_address].u_obj, MP_QSTR_address, address);
    }
    mp_int_t port = coap_get_port_arg(args[ARG_port].u_obj, MP_QSTR_port, 0);
    bool discovery = args[ARG_service_discovery].u_bool;
    if (discovery && !server) {
        mp_raise_ValueError(MP_ERROR_TEXT("\"service_discovery\" needs an \"address\""));
    }
    int64_t remote_budget = mpcoap_remote_budget_default();
    if (args[ARG_remote_budget].u_obj != MP_OBJ_NULL
        && (!coap_get_u32_or_minus_one(args[ARG_remote_budget].u_obj, &remote_budget) || remote_budget < 0)) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("\"remote_budget\" must be 0..%u bytes"), (unsigned)UINT32_MAX);
    }

    // The engine block follows the state in the same GC block, aligned by
    // hand (GC blocks are only 16-byte aligned on 32-bit ports).
    size_t engine_len = mpcoap_engine_size();
    size_t align = mpcoap_engine_align();
    if (align == 0 || (align & (align - 1)) != 0) {
        coap_raise_status(MPCOAP_ERR_MEMORY);
    }
    coap_state_t *st = COAP_MALLOC_STATE(engine_len + align - 1);
    memset((uint8_t *)st + sizeof(mp_obj_base_t), 0, offsetof(coap_state_t, tx) - sizeof(mp_obj_base_t));
    st->closed = true; // until installed, so the finaliser of a failed init() finds nothing to do
    st->handler = mp_const_none;
    #if MICROPY_PY_THREAD
    mp_thread_mutex_init(&st->mutex);
    #endif
    st->engine = (uint8_t *)(((uintptr_t)st->engine_mem + align - 1) & ~(uintptr_t)(align - 1));
    st->engine_len = engine_len;

    // Seed message IDs and tokens from os.urandom where there is one.
    uint32_t seed = (uint32_t)mp_hal_ticks_us() ^ (uint32_t)(uintptr_t)st;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t os = mp_module_get_builtin(MP_QSTR_os, true);
        if (os != MP_OBJ_NULL) {
            mp_obj_t four = MP_OBJ_NEW_SMALL_INT(4);
            mp_obj_t r = mp_call_function_n_kw(mp_load_attr(os, MP_QSTR_urandom), 1, 0, &four);
            mp_buffer_info_t bufinfo;
            if (mp_get_buffer(r, &bufinfo, MP_BUFFER_READ) && bufinfo.len == 4) {
                uint32_t rnd;
                memcpy(&rnd, bufinfo.buf, 4);
                seed ^= rnd;
            }
        }
        nlr_pop();
    }
    int32_t rc = mpcoap_engine_init(st->engine, engine_len, coap_now(), seed, (uint32_t)remote_budget);
    if (rc < 0) {
        coap_raise_status(rc);
    }

    mp_obj_t sock = MP_OBJ_NULL;
    mp_obj_t msock = MP_OBJ_NULL;
    if (server) {
        sock = coap_socket_open(address, port, NULL, discovery); // EXCEPTION: OSError (bind)
        if (discovery) {
            if (nlr_push(&nlr) == 0) {
                static const uint8_t group[4] = COAP_MULTICAST_GROUP;
                uint8_t mreq[8];
                memcpy(mreq, group, 4);
                memcpy(mreq + 4, address, 4);
                msock = coap_socket_open(group, port, mreq, true);
                nlr_pop();
            } else {
                coap_socket_close(sock);
                nlr_jump(nlr.ret_val);
            }
        }
    }
    st->sock[COAP_SOCK_SERVER] = sock;
    st->sock[COAP_SOCK_MULTICAST] = msock;
    st->closed = false;
    if (!coap_state_swap(NULL, st)) {
        // Another thread's init() won.
        st->closed = true;
        memset(st->sock, 0, sizeof(st->sock));
        if (sock != MP_OBJ_NULL) {
            coap_socket_close(sock);
        }
        if (msock != MP_OBJ_NULL) {
            coap_socket_close(msock);
        }
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("Coap module already initialized!"));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_init_obj, 0, coap_init);

// deinit(): detaches every object, gives the engine's storage back, wakes
// read() and closes the sockets.
static mp_obj_t coap_deinit(void) {
    coap_state_t *st = coap_lock_state();
    st->closed = true;
    coap_state_swap(st, NULL);
    uintptr_t user;
    while (mpcoap_engine_take_user(st->engine, &user) == 1) {
        coap_detach_user(user);
    }
    coap_give_back(st);
    st->handler = mp_const_none;
    st->last_addr = MP_OBJ_NULL;
    mp_obj_t closing[COAP_SOCK_COUNT] = { MP_OBJ_NULL };
    bool in_use = st->sock_users > 0;
    if (!in_use) {
        memcpy(closing, st->sock, sizeof(st->sock));
        memset(st->sock, 0, sizeof(st->sock));
    }
    COAP_UNLOCK(st);
    for (size_t i = 0; i < COAP_SOCK_COUNT; ++i) {
        if (closing[i] != MP_OBJ_NULL) {
            coap_socket_close(closing[i]);
        }
    }
    // Another thread is in a socket call (read() waits at most one slice):
    // it closes the sockets when it leaves. Wait for that, so that a new
    // init() can bind the same port, but not forever (a scheduled callback
    // run from inside our own socket call could be the user).
    uint32_t start = coap_now();
    while (in_use && coap_now() - start < COAP_DEINIT_WAIT_MS) {
        mp_event_wait_ms(1); // EXCEPTION: can raise (KeyboardInterrupt); deinit is done anyway
        COAP_LOCK(st);
        in_use = st->sock_users > 0 || st->closing;
        COAP_UNLOCK(st);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(coap_deinit_obj, coap_deinit);

// add_resource(uri, *, media_type=-1, max_age=-1, value=0, etag=False, observable=False)
static mp_obj_t coap_add_resource(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_uri, ARG_media_type, ARG_max_age, ARG_value, ARG_etag, ARG_observable };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_uri, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_media_type, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(-1)} },
        { MP_QSTR_max_age, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(-1)} },
        { MP_QSTR_value, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(0)} },
        { MP_QSTR_etag, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_observable, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    coap_require_initialised();

    coap_bytes_t uri, value;
    coap_get_text(args[ARG_uri].u_obj, MP_QSTR_uri, &uri);
    mp_int_t media_type;
    if (!coap_get_int_in(args[ARG_media_type].u_obj, -1, 65535, &media_type)) {
        coap_raise_status(MPCOAP_ERR_MEDIA_TYPE);
    }
    int64_t max_age = coap_get_max_age(args[ARG_max_age].u_obj);
    coap_get_value(args[ARG_value].u_obj, MP_QSTR_value, true, false, &value);
    coap_resource_obj_t *res = mp_obj_malloc(coap_resource_obj_t, &coap_resource_type);
    res->st = NULL;

    // The object is made first, so that its MemoryError changes nothing.
    // The engine keeps it (the user word) from now on.
    coap_state_t *st = coap_lock_state();
    uint32_t handle;
    int32_t rc;
    COAP_ENGINE_CALL(st, rc, mpcoap_resource_add(st->engine, uri.data, uri.len, (int32_t)media_type, max_age,
        value.data, value.len, args[ARG_etag].u_bool, (uintptr_t)res, &handle));
    coap_give_back(st);
    if (rc >= 0) {
        res->st = st;
        res->handle = handle;
        if (args[ARG_observable].u_bool) {
            // Cannot fail: the handle was made just now, under this lock.
            (void)mpcoap_resource_set_observable(st->engine, handle, true);
        }
    }
    COAP_UNLOCK(st);
    if (rc == MPCOAP_ERR_EXISTS) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("Resource already exists or cannot be created!"));
    } else if (rc < 0) {
        coap_raise_status(rc);
    }
    return MP_OBJ_FROM_PTR(res);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_add_resource_obj, 0, coap_add_resource);

// The `uri` of remove_resource() and get_resource(), by position or keyword.
static void coap_parse_uri_arg(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args, coap_bytes_t *uri) {
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_uri, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    coap_require_initialised();
    coap_get_text(args[0].u_obj, MP_QSTR_uri, uri);
}

// remove_resource(uri): an unknown uri is not an error.
static mp_obj_t coap_remove_resource(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    coap_bytes_t uri;
    coap_parse_uri_arg(n_args, pos_args, kw_args, &uri);
    coap_state_t *st = coap_lock_state();
    uint32_t handle;
    uintptr_t user;
    if (mpcoap_resource_find(st->engine, uri.data, uri.len, &handle, &user) >= 0
        && mpcoap_resource_remove(st->engine, handle) >= 0) {
        coap_detach_user(user);
    }
    coap_give_back(st);
    COAP_UNLOCK(st);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_remove_resource_obj, 0, coap_remove_resource);

// get_resource(uri): the object add_resource() returned, or None.
static mp_obj_t coap_get_resource(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    coap_bytes_t uri;
    coap_parse_uri_arg(n_args, pos_args, kw_args, &uri);
    coap_state_t *st = coap_lock_state();
    mp_obj_t found = mp_const_none;
    uint32_t handle;
    uintptr_t user;
    if (mpcoap_resource_find(st->engine, uri.data, uri.len, &handle, &user) >= 0 && user != 0) {
        found = MP_OBJ_FROM_PTR((void *)user);
    }
    COAP_UNLOCK(st);
    return found;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_get_resource_obj, 0, coap_get_resource);

static MP_NORETURN void coap_raise_serving(void) {
    mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("read() and coap_asyncio.serve() cannot run at the same time"));
}

static void coap_read_end(coap_state_t *st) {
    COAP_LOCK(st);
    st->reader_active = false;
    st->reader = NULL;
    COAP_UNLOCK(st);
}

// The calling thread, as read() records its reader.
static void *coap_this_thread(void) {
    #if MICROPY_PY_THREAD
    return mp_thread_get_state();
    #else
    return NULL;
    #endif
}

// read(timeout=0): see the contract's "read()".
static mp_obj_t coap_read(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_timeout };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_timeout, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(0)} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_int_t timeout;
    // Longer than ~24 days (elapsed time is kept on 32-bit ticks) is cut.
    if (!coap_get_int_in(args[ARG_timeout].u_obj, 0, 0x7fffffff, &timeout) && timeout > 0) {
        timeout = 0x7fffffff;
    }

    coap_state_t *st = coap_lock_state();
    if (timeout < 0) {
        COAP_UNLOCK(st);
        mp_raise_ValueError(MP_ERROR_TEXT("\"timeout\" must be >= 0 (milliseconds; 0 waits without limit)"));
    }
    if (st->serving) {
        COAP_UNLOCK(st);
        coap_raise_serving();
    }
    if (st->reader_active) {
        bool reentrant = st->reader == coap_this_thread();
        COAP_UNLOCK(st);
        if (reentrant) {
            // The response handler (or a callback run while read() waits)
            // runs inside read(), in its thread.
            mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("read() cannot be called from inside read() (from the response handler)"));
        }
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("read() is already running in another thread"));
    }
    st->reader_active = true;
    st->reader = coap_this_thread();
    COAP_UNLOCK(st);

    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_int_t handled = coap_read_loop(st, (uint32_t)timeout);
        nlr_pop();
        coap_read_end(st);
        return MP_OBJ_NEW_SMALL_INT(handled);
    } else {
        coap_read_end(st);
        nlr_jump(nlr.ret_val);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_read_obj, 0, coap_read);

// register_response_handler(callback): callback(code, id, type, token,
// payload), or None to stop delivering responses.
static mp_obj_t coap_register_response_handler(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_callback, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    coap_require_initialised();
    mp_obj_t callback = args[0].u_obj;
    if (callback != mp_const_none && !mp_obj_is_callable(callback)) {
        mp_raise_TypeError(MP_ERROR_TEXT("\"callback\" must be callable"));
    }
    coap_state_t *st = coap_lock_state();
    st->handler = callback;
    COAP_UNLOCK(st);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_register_response_handler_obj, 0, coap_register_response_handler);

// Shared by new_client_session() and remove_client_session().
static void coap_parse_session_args(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args, mpcoap_endpoint_t *peer) {
    enum { ARG_destination, ARG_port, ARG_protocol };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_destination, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_port, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(5683)} },
        { MP_QSTR_protocol, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(1)} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    coap_require_initialised();
    coap_get_ipv4(args[ARG_destination].u_obj, MP_QSTR_destination, peer->addr);
    peer->port = coap_get_port_arg(args[ARG_port].u_obj, MP_QSTR_port, 1);
    mp_int_t protocol;
    if (!coap_get_int_in(args[ARG_protocol].u_obj, 1, 1, &protocol)) {
        mp_raise_ValueError(MP_ERROR_TEXT("\"protocol\" must be PROTOCOL_UDP"));
    }
}

// new_client_session(destination, port=5683, protocol=PROTOCOL_UDP)
static mp_obj_t coap_new_client_session(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    mpcoap_endpoint_t peer;
    coap_parse_session_args(n_args, pos_args, kw_args, &peer);
    coap_session_obj_t *ses = mp_obj_malloc(coap_session_obj_t, &coap_session_type);
    ses->st = NULL;
    ses->peer = peer;
    ses->addr = MP_OBJ_NULL;

    // The object is made first, so that its MemoryError changes nothing.
    // The engine keeps it (the user word) from now on.
    coap_state_t *st = coap_lock_state();
    uint32_t handle;
    int32_t rc;
    // Share an address object another session to this peer has made
    // (looked up before this session is one of them).
    mp_obj_t addr = coap_known_address(st, &peer);
    COAP_ENGINE_CALL(st, rc, mpcoap_session_new(st->engine, &peer, (uintptr_t)ses, &handle));
    coap_give_back(st);
    if (rc >= 0) {
        ses->st = st;
        ses->handle = handle;
        ses->addr = addr;
    }
    COAP_UNLOCK(st);
    if (rc < 0) {
        coap_raise_status(rc);
    }
    return MP_OBJ_FROM_PTR(ses);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_new_client_session_obj, 0, coap_new_client_session);

// remove_client_session(destination, port=5683, protocol=PROTOCOL_UDP):
// removes the first session to that peer.
static mp_obj_t coap_remove_client_session(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    mpcoap_endpoint_t peer;
    coap_parse_session_args(n_args, pos_args, kw_args, &peer);
    coap_state_t *st = coap_lock_state();
    bool removed = false;
    coap_session_obj_t *ses = coap_session_to(st, &peer, 0);
    if (ses != NULL) {
        mpcoap_session_remove(st->engine, ses->handle);
        coap_detach_user((uintptr_t)ses);
        removed = true;
    }
    coap_give_back(st);
    COAP_UNLOCK(st);
    if (!removed) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("Client Session has not been removed"));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_remove_client_session_obj, 0, coap_remove_client_session);

// get_client_sessions(): a new list of the session objects, in creation order.
static mp_obj_t coap_get_client_sessions(void) {
    coap_state_t *st = coap_lock_state();
    size_t n = 0;
    while (coap_session_at(st, n) != NULL) {
        ++n;
    }
    // Made and filled in one lock hold, so the sessions cannot change meanwhile.
    mp_obj_list_t *list = coap_new_list_locked(st, n); // EXCEPTION: MemoryError, unlocked
    for (size_t i = 0; i < n; ++i) {
        list->items[i] = MP_OBJ_FROM_PTR(coap_session_at(st, i));
    }
    COAP_UNLOCK(st);
    return MP_OBJ_FROM_PTR(list);
}
static MP_DEFINE_CONST_FUN_OBJ_0(coap_get_client_sessions_obj, coap_get_client_sessions);

// _process(datagram, addr=None, *, multicast=False) -> bytes or None
// A private hook for tests on ports without sockets (qemu): runs one
// datagram through the engine as if it came from `addr` ((ip, port) or raw
// sockaddr_in bytes; a fixed TEST-NET-1 peer if None) and returns the engine's direct reply.
// Nothing is sent; events go to the handler and remote DELETEs detach
// resources, as in read().
static mp_obj_t coap_process(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_datagram, ARG_addr, ARG_multicast };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_datagram, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_addr, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_multicast, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    coap_require_initialised();

    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(args[ARG_datagram].u_obj, &bufinfo, MP_BUFFER_READ);
    if (bufinfo.len > MPCOAP_MESSAGE_MAX) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("\"datagram\" must be at most %d bytes"), MPCOAP_MESSAGE_MAX);
    }
    mpcoap_endpoint_t from = { COAP_FAKE_PEER_ADDR, COAP_FAKE_PEER_PORT };
    // Decoded like a recvfrom() address, so tests exercise both forms.
    if (args[ARG_addr].u_obj != mp_const_none && !coap_address_to_peer(args[ARG_addr].u_obj, &from)) {
        mp_raise_ValueError(MP_ERROR_TEXT("\"addr\" must be (ip, port) or sockaddr_in bytes"));
    }
    // The reply goes to the state's tx[], as in read(): no message-sized
    // allocation per call, whose cost would depend on how fragmented the
    // GC heap is (the RV32 benchmark times this hook).
    coap_state_t *st = coap_state_peek();
    if (st == NULL || !coap_tx_acquire_locked(st)) {
        coap_raise_not_initialised();
    }
    coap_call_t call;
    mpcoap_event_t ev;
    size_t reply_len = 0;
    uint32_t now = coap_now(); // the same for every repetition
    int32_t r;
    COAP_ENGINE_CALL(st, r, mpcoap_engine_receive(st->engine, now, &from, args[ARG_multicast].u_bool,
        bufinfo.buf, bufinfo.len, st->tx, sizeof(st->tx), &reply_len, &ev));
    st->tx_busy = false; // the lock keeps tx[] ours while the reply is copied
    bool deliver = r == 1 && coap_take_event(st, &ev, &call); // EXCEPTION: MemoryError, unlocked
    // EXCEPTION: MemoryError, unlocked (the request was handled; its reply is lost)
    mp_obj_t reply = r >= 0 && reply_len > 0 ? coap_new_bytes_locked(st, st->tx, reply_len) : mp_const_none;
    coap_give_back(st);
    COAP_UNLOCK(st);
    if (deliver) {
        mp_call_function_n_kw(call.handler, 5, 0, call.args); // EXCEPTION: can raise
    }
    return reply;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_process_obj, 0, coap_process);

// Private hooks for the benchmark and the stack measurement on the qemu
// firmware (tests/bench/rv32/, docs/internals.md "Private hooks").

static MP_NORETURN void coap_raise_session_removed(void);

// _transmit() -> bytes or None
// Takes the next datagram the engine has due (a request or a retransmission)
// out of the engine and returns it. The first call puts the module into
// capture mode until deinit(): from then on nothing is sent, and
// send_request() queues its request even on a port without sockets, so a
// client exchange runs without the network.
static mp_obj_t coap_transmit(void) {
    coap_state_t *st = coap_state_peek();
    if (st == NULL || !coap_tx_acquire_locked(st)) {
        coap_raise_not_initialised();
    }
    st->capture = true;
    mpcoap_endpoint_t dest;
    int32_t n = mpcoap_engine_poll_transmit(st->engine, coap_now(), st->tx, sizeof(st->tx), &dest);
    coap_give_back(st);
    st->tx_busy = false; // the lock keeps tx[] ours while it is copied
    mp_obj_t out = n > 0 ? coap_new_bytes_locked(st, st->tx, (size_t)n) : mp_const_none; // EXCEPTION: MemoryError, unlocked
    COAP_UNLOCK(st);
    return out;
}
static MP_DEFINE_CONST_FUN_OBJ_0(coap_transmit_obj, coap_transmit);

// Stack painting: fills the stack below the caller's frame with a pattern;
// after some calls, the deepest word no longer holding it is the high-water
// mark. The painted region starts a little below this function's own frame
// and ends where the port's stack check leaves no room. Only on a bare-metal
// stack (the qemu firmware, a FreeRTOS task): under a hosted OS a signal
// handler may use the memory below the stack pointer, and valgrind rightly
// flags writes there, so the hooks measure nothing (0).
#if COAP_HOSTED
#define COAP_STACK_PROBE (0)
#else
#define COAP_STACK_PROBE (MICROPY_STACK_CHECK)
#endif
#define COAP_STACK_PATTERN (0x5aa5c33cu)
#define COAP_STACK_GAP (64) // words left between this frame and the paint
#define COAP_STACK_MARGIN (1024) // bytes of the room left unpainted

// Returns the lowest painted word, or NULL if nothing was painted.
static MP_NOINLINE uint32_t *coap_stack_paint(void) {
    #if COAP_STACK_PROBE
    size_t used = mp_cstack_usage();
    size_t limit = MP_STATE_THREAD(stack_limit);
    size_t words = used + COAP_STACK_MARGIN < limit ? (limit - used - COAP_STACK_MARGIN) / 4 : 0;
    volatile uint32_t here = 0;
    uint32_t *top = (uint32_t *)((uintptr_t)&here & ~(uintptr_t)3) - COAP_STACK_GAP;
    for (size_t i = 1; i <= words; ++i) {
        ((volatile uint32_t *)top)[-(ptrdiff_t)i] = COAP_STACK_PATTERN;
    }
    return words > 0 ? top - words : NULL;
    #else
    return NULL;
    #endif
}

// Bytes between `ref` (an address in the caller's frame) and the deepest
// painted word that was overwritten (0 if nothing was painted); raises if
// the paint was too short.
static size_t coap_stack_used(const uint32_t *bottom, const void *ref) {
    const volatile uint32_t *p = bottom;
    if (p == NULL) {
        return 0;
    }
    if (*p != COAP_STACK_PATTERN) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("stack probe too short"));
    }
    while ((const void *)p < ref && *p == COAP_STACK_PATTERN) {
        ++p;
    }
    return (size_t)((const uint8_t *)ref - (const uint8_t *)p);
}

// _stack(fn, *args) -> int
// Calls fn(*args) and returns the bytes of C stack the call used below this
// hook's frame (the stack was painted before the call), or 0 where the
// stack is not painted.
static mp_obj_t coap_stack(size_t n_args, const mp_obj_t *args) {
    volatile uint32_t ref = 0;
    uint32_t *bottom = coap_stack_paint();
    mp_call_function_n_kw(args[0], n_args - 1, 0, args + 1); // EXCEPTION: can raise
    return MP_OBJ_NEW_SMALL_INT(coap_stack_used(bottom, (const void *)&ref));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR(coap_stack_obj, 1, coap_stack);

// _repeat(n, datagram, session=None) -> int
// The engine alone, n times, for the benchmark: without `session`, receives
// `datagram` as a request from the fake peer; with one, has the session send
// a GET carrying the datagram's token, takes it (poll_transmit) and receives
// `datagram` as its response. Each time the datagram gets the next Message ID
// (with a session: the request's), so none is a duplicate. Replies and
// events are dropped. Returns the deepest stack use of those engine calls,
// in bytes below this hook's frame (0 where the stack is not painted).
static mp_obj_t coap_repeat(size_t n_args, const mp_obj_t *args) {
    mp_int_t n = mp_obj_get_int(args[0]);
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(args[1], &bufinfo, MP_BUFFER_READ);
    size_t tkl = bufinfo.len >= 4 ? (((const uint8_t *)bufinfo.buf)[0] & 0x0f) : 0;
    if (bufinfo.len < 4 + tkl || tkl > 8 || bufinfo.len > MPCOAP_MESSAGE_MAX) {
        mp_raise_ValueError(MP_ERROR_TEXT("\"datagram\" must be a CoAP message"));
    }
    coap_session_obj_t *ses = NULL;
    if (n_args > 2 && args[2] != mp_const_none) {
        if (!mp_obj_is_type(args[2], &coap_session_type)) {
            mp_raise_TypeError(MP_ERROR_TEXT("\"session\" must be a CoapClientSession"));
        }
        ses = MP_OBJ_TO_PTR(args[2]);
    }
    uint8_t *d = m_new(uint8_t, bufinfo.len);
    memcpy(d, bufinfo.buf, bufinfo.len);
    uint16_t mid = (uint16_t)((d[2] << 8) | d[3]);
    mpcoap_request_t req = { .method = MPCOAP_REQUEST_GET, .content_format = -1,
                             .token = d + 4, .token_len = tkl, .include_options = true };
    mpcoap_endpoint_t from = { COAP_FAKE_PEER_ADDR, COAP_FAKE_PEER_PORT };
    coap_state_t *st = coap_state_peek();
    if (st == NULL || !coap_tx_acquire_locked(st)) {
        coap_raise_not_initialised();
    }
    if (ses != NULL && ses->st != st) {
        st->tx_busy = false;
        COAP_UNLOCK(st);
        coap_raise_session_removed();
    }
    volatile uint32_t ref = 0;
    uint32_t *bottom = coap_stack_paint();
    uint32_t now = coap_now();
    int32_t failed = MPCOAP_OK; // a request the engine refused (e.g. MemoryError)
    for (mp_int_t i = 0; i < n && failed == MPCOAP_OK; ++i) {
        int32_t rc;
        if (ses != NULL) {
            uint16_t sent;
            mpcoap_endpoint_t dest = from;
            COAP_ENGINE_CALL(st, rc, mpcoap_session_request(st->engine, ses->handle, now, &req, &sent));
            if (rc < 0) {
                failed = rc;
                break;
            }
            mpcoap_engine_poll_transmit(st->engine, now, st->tx, sizeof(st->tx), &dest);
            from = dest;
            mid = sent;
        }
        d[2] = (uint8_t)(mid >> 8);
        d[3] = (uint8_t)mid;
        mpcoap_event_t ev;
        size_t reply_len;
        COAP_ENGINE_CALL(st, rc, mpcoap_engine_receive(st->engine, now, &from, false, d, bufinfo.len,
            st->tx, sizeof(st->tx), &reply_len, &ev));
        if (rc < 0) {
            failed = rc;
        }
        coap_give_back(st);
        ++mid;
    }
    coap_give_back(st);
    st->tx_busy = false;
    COAP_UNLOCK(st);
    size_t used = coap_stack_used(bottom, (const void *)&ref); // EXCEPTION: RuntimeError
    m_del(uint8_t, d, bufinfo.len);
    if (failed != MPCOAP_OK) {
        coap_raise_status(failed);
    }
    return MP_OBJ_NEW_SMALL_INT(used);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(coap_repeat_obj, 2, 3, coap_repeat);

// _fail_storage(k) -> None
// The k-th block the engine asks for from now on is refused as if the heap
// were empty (once); 0 turns a pending failure off. Tests inject heap
// failures into every call that can need storage with it (heap_lock()
// would fail the Python object first).
static mp_obj_t coap_fail_storage(mp_obj_t k_in) {
    mp_int_t k;
    bool in_range = coap_get_int_in(k_in, 0, MP_SMALL_INT_MAX, &k); // EXCEPTION: TypeError
    coap_require_initialised();
    if (!in_range) {
        mp_raise_ValueError(MP_ERROR_TEXT("\"k\" must be >= 0"));
    }
    coap_state_t *st = coap_lock_state();
    st->fail_storage = (mp_uint_t)k;
    COAP_UNLOCK(st);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(coap_fail_storage_obj, coap_fail_storage);

// _storage() -> (blocks, bytes, remote_bytes, remote_budget)
// What the engine holds of the heap (mpcoap_storage_stats).
static mp_obj_t coap_storage(void) {
    mpcoap_storage_stats_t stats;
    coap_state_t *st = coap_lock_state();
    mpcoap_storage_stats(st->engine, &stats);
    COAP_UNLOCK(st);
    mp_obj_t items[4] = {
        mp_obj_new_int_from_uint(stats.blocks),
        mp_obj_new_int_from_uint(stats.bytes),
        mp_obj_new_int_from_uint(stats.remote_bytes),
        mp_obj_new_int_from_uint(stats.remote_budget),
    };
    return mp_obj_new_tuple(4, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(coap_storage_obj, coap_storage);
#if MICROPY_PY_COAP_TEST_KNOBS
// _set_ack_timeout(ms) -> int: host tests' knob (docs/internals.md). Sets
// ACK_TIMEOUT for requests sent from now on; 0, or more than the shipped
// value, restores it. Returns the ACK_TIMEOUT in force.
static mp_obj_t coap_set_ack_timeout(mp_obj_t ms_in) {
    mp_int_t ms;
    bool in_range = coap_get_int_in(ms_in, 0, 0x7fffffff, &ms); // EXCEPTION: TypeError
    coap_require_initialised();
    if (!in_range) {
        mp_raise_ValueError(MP_ERROR_TEXT("\"ms\" must be >= 0"));
    }
    coap_state_t *st = coap_lock_state();
    int32_t rc = mpcoap_engine_set_ack_timeout(st->engine, (uint32_t)ms);
    COAP_UNLOCK(st);
    if (rc < 0) {
        coap_raise_status(rc);
    }
    return MP_OBJ_NEW_SMALL_INT(rc);
}
static MP_DEFINE_CONST_FUN_OBJ_1(coap_set_ack_timeout_obj, coap_set_ack_timeout);
#endif

/******************************************************************************/
// coap_asyncio's hooks (docs/internals.md "Private hooks"): serve() waits
// in asyncio's poller on _sockets() and sleeps _next_timeout(); read()'s
// machinery does the work.

// _serve(on, waker=None): serve() takes (on) or leaves the reader's role;
// value(x) in the taking thread calls waker (Observe notifications are due).
static mp_obj_t coap_serve(size_t n_args, const mp_obj_t *args) {
    bool on = mp_obj_is_true(args[0]); // EXCEPTION: can raise, before the lock
    coap_state_t *st = on ? coap_lock_state() : coap_state_peek();
    if (!on) {
        if (st != NULL) {
            COAP_LOCK(st);
            st->serving = false;
            st->waker = MP_OBJ_NULL;
            COAP_UNLOCK(st);
        }
        return mp_const_none;
    }
    bool twice = st->serving, reading = st->reader_active;
    if (!twice) {
        st->serving = true;
        st->serve_thread = coap_this_thread();
        st->waker = n_args > 1 && args[1] != mp_const_none ? args[1] : MP_OBJ_NULL;
    }
    COAP_UNLOCK(st);
    if (twice) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("coap_asyncio.serve() is already running"));
    }
    if (reading) {
        mp_obj_t off = mp_const_false;
        coap_serve(1, &off); // the reader's role stays read()'s
        coap_raise_serving();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(coap_serve_obj, 1, 2, coap_serve);

// The state while serve() holds it, else NULL (deinit() ends serve()).
static coap_state_t *coap_serving_state(void) {
    coap_state_t *st = coap_state_peek();
    if (st != NULL) {
        COAP_LOCK(st);
        bool serving = !st->closed && st->serving;
        COAP_UNLOCK(st);
        st = serving ? st : NULL;
    }
    return st;
}

// _step(n): one non-blocking pass of read() (coap_drain): what is due, then
// at most n waiting datagrams. Returns how many were handled, or -1 once
// serve() no longer holds the module.
// EXCEPTION: can raise (from the handler).
static mp_obj_t coap_step(mp_obj_t max_in) {
    mp_int_t max = mp_obj_get_int(max_in);
    coap_state_t *st = coap_serving_state();
    return MP_OBJ_NEW_SMALL_INT(st == NULL ? -1 : coap_drain(st, max, coap_now(), 0));
}
static MP_DEFINE_CONST_FUN_OBJ_1(coap_step_obj, coap_step);

// _next_timeout(): ms until the next timer is due (0: now), -1 if none.
static mp_obj_t coap_next_timeout(void) {
    coap_state_t *st = coap_state_peek();
    int32_t next = -1;
    if (st != NULL) {
        COAP_LOCK(st);
        next = st->closed ? -1 : mpcoap_engine_next_timeout(st->engine, coap_now());
        COAP_UNLOCK(st);
    }
    return MP_OBJ_NEW_SMALL_INT(next);
}
static MP_DEFINE_CONST_FUN_OBJ_0(coap_next_timeout_obj, coap_next_timeout);

// _sockets(): the module's socket objects, as a tuple (empty once closed).
static mp_obj_t coap_sockets(void) {
    mp_obj_t socks[COAP_SOCK_COUNT] = { MP_OBJ_NULL };
    size_t n = 0;
    coap_state_t *st = coap_state_peek();
    if (st != NULL) {
        COAP_LOCK(st);
        for (size_t i = 0; i < COAP_SOCK_COUNT && !st->closed; ++i) {
            if (st->sock[i] != MP_OBJ_NULL) {
                socks[n++] = st->sock[i];
            }
        }
        COAP_UNLOCK(st);
    }
    return mp_obj_new_tuple(n, socks);
}
static MP_DEFINE_CONST_FUN_OBJ_0(coap_sockets_obj, coap_sockets);

// _await(session, token, callback): the response to the session's request
// with this token (bytes) goes to callback(code, id, type, token, payload)
// instead of the handler. With callback None: forgotten, and the request,
// if still pending, is cancelled (returns True then).
static mp_obj_t coap_await(mp_obj_t session_in, mp_obj_t token_in, mp_obj_t callback) {
    if (!mp_obj_is_type(session_in, &coap_session_type) || !mp_obj_is_type(token_in, &mp_type_bytes)) {
        mp_raise_TypeError(NULL);
    }
    coap_session_obj_t *ses = MP_OBJ_TO_PTR(session_in);
    coap_state_t *st = coap_state_peek();
    bool forget = callback == mp_const_none;
    if (forget) {
        // Never raises: it runs when a request ends, even after deinit().
        if (st == NULL) {
            return mp_const_false;
        }
        COAP_LOCK(st);
    } else {
        // Made before the lock, for the first call of this init().
        mp_obj_t dict = st != NULL && st->awaited == MP_OBJ_NULL ? mp_obj_new_dict(0) : MP_OBJ_NULL;
        st = coap_lock_state();
        if (st->awaited == MP_OBJ_NULL) {
            st->awaited = dict;
        }
    }
    int32_t cancelled = 0;
    nlr_buf_t nlr;
    if (st->awaited == MP_OBJ_NULL) {
        cancelled = forget ? 0 : -1; // another init() ran meanwhile: raise below
    } else if (forget) {
        mp_map_lookup(mp_obj_dict_get_map(st->awaited), token_in, MP_MAP_LOOKUP_REMOVE_IF_FOUND);
        if (!st->closed && ses->st == st) {
            size_t len;
            const char *token = mp_obj_str_get_data(token_in, &len);
            cancelled = mpcoap_session_cancel(st->engine, ses->handle, 0, false, (const uint8_t *)token, len);
            coap_give_back(st);
        }
    } else if (nlr_push(&nlr) == 0) {
        mp_obj_dict_store(st->awaited, token_in, callback); // EXCEPTION: MemoryError
        nlr_pop();
    } else {
        COAP_UNLOCK(st);
        nlr_jump(nlr.ret_val);
    }
    COAP_UNLOCK(st);
    if (cancelled < 0) {
        coap_raise_not_initialised();
    }
    return mp_obj_new_bool(cancelled == 1);
}
static MP_DEFINE_CONST_FUN_OBJ_3(coap_await_obj, coap_await);

/******************************************************************************/
// CoapResource

// Returns the state with its lock held if the object whose `st` field this
// is (a resource or a session) is still attached, else NULL. The field is
// read again under the lock: deinit() or a remote DELETE may detach the
// object between the first read and the lock.
static coap_state_t *coap_lock_attached(coap_state_t **st_field) {
    coap_state_t *st = *st_field;
    if (st != NULL) {
        COAP_LOCK(st);
        if (*st_field == st) {
            return st;
        }
        COAP_UNLOCK(st);
    }
    return NULL;
}

static coap_state_t *coap_resource_lock(coap_resource_obj_t *self) {
    return coap_lock_attached(&self->st);
}

static MP_NORETURN void coap_raise_resource_removed(void) {
    mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("Resource has been removed"));
}

// add_attribute(name, value)
static mp_obj_t coap_resource_add_attribute(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_name, ARG_value };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_name, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_value, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    coap_resource_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    if (self->st == NULL) {
        coap_raise_resource_removed();
    }
    coap_bytes_t name, value;
    coap_get_text(args[ARG_name].u_obj, MP_QSTR_name, &name);
    coap_get_value(args[ARG_value].u_obj, MP_QSTR_value, true, false, &value);
    coap_state_t *st = coap_resource_lock(self);
    if (st == NULL) {
        coap_raise_resource_removed();
    }
    int32_t rc;
    COAP_ENGINE_CALL(st, rc, mpcoap_resource_add_attribute(st->engine, self->handle,
        name.data, name.len, value.data, value.len));
    coap_give_back(st);
    COAP_UNLOCK(st);
    if (rc < 0) {
        coap_raise_status(rc);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_resource_add_attribute_obj, 1, coap_resource_add_attribute);

// value() -> bytes (None once removed); value(x) or value(value=x) stores x.
static mp_obj_t coap_resource_value(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_value, MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    coap_resource_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    if (args[0].u_obj == MP_OBJ_NULL) {
        coap_state_t *st = coap_resource_lock(self);
        if (st == NULL) {
            return mp_const_none;
        }
        const uint8_t *data;
        size_t len;
        mp_obj_t result = mp_const_none;
        if (mpcoap_resource_value(st->engine, self->handle, &data, &len) >= 0) {
            result = coap_new_bytes_locked(st, data, len); // EXCEPTION: MemoryError, unlocked
        }
        COAP_UNLOCK(st);
        return result;
    }
    if (self->st == NULL) {
        coap_raise_resource_removed();
    }
    coap_bytes_t value;
    coap_get_value(args[0].u_obj, MP_QSTR_value, true, false, &value);
    coap_state_t *st = coap_resource_lock(self);
    if (st == NULL) {
        coap_raise_resource_removed();
    }
    int32_t rc;
    COAP_ENGINE_CALL(st, rc, mpcoap_resource_set_value(st->engine, self->handle, value.data, value.len));
    coap_give_back(st); // the old value, when it moved
    // Observe notifications are now due: a serve() asleep in this thread's
    // asyncio loop is woken to send them (from another thread, asyncio's
    // queue must not be touched: serve() sends them when it next wakes).
    mp_obj_t waker = rc >= 0 && st->serving && st->serve_thread == coap_this_thread() ? st->waker : MP_OBJ_NULL;
    COAP_UNLOCK(st);
    if (rc < 0) {
        coap_raise_status(rc);
    }
    if (waker != MP_OBJ_NULL) {
        mp_call_function_0(waker); // EXCEPTION: can raise (coap_asyncio's _wake does not)
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_resource_value_obj, 1, coap_resource_value);

// callback(operation, enable): enables or disables the REQUEST_* methods in
// the mask `operation`.
static mp_obj_t coap_resource_callback(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_operation, ARG_enable };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_operation, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_enable, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    coap_resource_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    if (self->st == NULL) {
        coap_raise_resource_removed();
    }
    mp_int_t operation;
    bool in_range = coap_get_int_in(args[ARG_operation].u_obj, 0, 0xffff, &operation);
    bool enable = mp_obj_is_true(args[ARG_enable].u_obj);
    if (!in_range) {
        coap_raise_status(MPCOAP_ERR_OPERATION);
    }
    coap_state_t *st = coap_resource_lock(self);
    if (st == NULL) {
        coap_raise_resource_removed();
    }
    int32_t rc = mpcoap_resource_set_methods(st->engine, self->handle, (uint32_t)operation, enable);
    COAP_UNLOCK(st);
    if (rc < 0) {
        coap_raise_status(rc);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_resource_callback_obj, 1, coap_resource_callback);

static const mp_rom_map_elem_t coap_resource_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_add_attribute), MP_ROM_PTR(&coap_resource_add_attribute_obj) },
    { MP_ROM_QSTR(MP_QSTR_value), MP_ROM_PTR(&coap_resource_value_obj) },
    { MP_ROM_QSTR(MP_QSTR_callback), MP_ROM_PTR(&coap_resource_callback_obj) },
};
static MP_DEFINE_CONST_DICT(coap_resource_locals_dict, coap_resource_locals_dict_table);

// No make_new: resources are made only by add_resource().
static MP_DEFINE_CONST_OBJ_TYPE(
    coap_resource_type,
    MP_QSTR_CoapResource,
    MP_TYPE_FLAG_NONE,
    locals_dict, &coap_resource_locals_dict
    );

/******************************************************************************/
// CoapClientSession

static coap_state_t *coap_session_lock(coap_session_obj_t *self) {
    return coap_lock_attached(&self->st);
}

static MP_NORETURN void coap_raise_session_removed(void) {
    mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("Client Session has been removed"));
}

// send_request(method, *, uri_path=None, content_format=-1, payload=None,
// token=None, include_options=True, observe=False) -> message ID
static mp_obj_t coap_session_send_request(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_method, ARG_uri_path, ARG_content_format, ARG_payload, ARG_token, ARG_include_options, ARG_observe };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_method, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_uri_path, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_content_format, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(-1)} },
        { MP_QSTR_payload, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_token, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_include_options, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_observe, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    };
    coap_session_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    // Another thread may detach the session meanwhile: keep the state it had
    // (still valid memory; coap_session_lock() checks again).
    coap_state_t *st0 = self->st;
    if (st0 == NULL) {
        coap_raise_session_removed();
    }

    mp_int_t method;
    coap_get_int_in(args[ARG_method].u_obj, 0, 0, &method); // EXCEPTION: TypeError
    if (method != MPCOAP_REQUEST_GET && method != MPCOAP_REQUEST_PUT
        && method != MPCOAP_REQUEST_POST && method != MPCOAP_REQUEST_DELETE) {
        mp_raise_ValueError(MP_ERROR_TEXT("Invalid \"method\" parameter value!"));
    }
    mp_int_t content_format;
    if (!coap_get_int_in(args[ARG_content_format].u_obj, -1, 65535, &content_format)) {
        coap_raise_status(MPCOAP_ERR_MEDIA_TYPE);
    }
    coap_bytes_t uri = { NULL, 0, {0} }, payload, token;
    if (args[ARG_uri_path].u_obj != mp_const_none) {
        coap_get_text(args[ARG_uri_path].u_obj, MP_QSTR_uri_path, &uri);
    }
    coap_get_value(args[ARG_payload].u_obj, MP_QSTR_payload, true, true, &payload);
    coap_get_value(args[ARG_token].u_obj, MP_QSTR_token, false, true, &token);
    if (token.len > 8) {
        coap_raise_status(MPCOAP_ERR_TOKEN);
    }
    bool observe = args[ARG_observe].u_bool;
    if (observe && (method != MPCOAP_REQUEST_GET || !args[ARG_include_options].u_bool)) {
        mp_raise_ValueError(MP_ERROR_TEXT("observe=True needs REQUEST_GET with options"));
    }
    mpcoap_request_t req = {
        .method = (uint32_t)method,
        .uri = uri.data,
        .uri_len = uri.len,
        .content_format = (int32_t)content_format,
        .payload = payload.data,
        .payload_len = payload.len,
        .token = token.data,
        .token_len = token.len,
        .include_options = args[ARG_include_options].u_bool,
        .observe = observe,
    };

    // The socket comes before queuing, so that a failing socket() or bind()
    // changes nothing.
    bool have_sockets = coap_socket_module_maybe() != MP_OBJ_NULL;
    if (have_sockets) {
        coap_ensure_socket(st0); // EXCEPTION: OSError
    }
    coap_state_t *st = coap_session_lock(self);
    if (st == NULL) {
        coap_raise_session_removed();
    }
    uint16_t mid = 0;
    uint32_t now = coap_now(); // the same for every repetition
    int32_t rc;
    if (have_sockets || st->capture) {
        COAP_ENGINE_CALL(st, rc, mpcoap_session_request(st->engine, self->handle, now, &req, &mid));
    } else {
        // A port without sockets (qemu): the request can never be sent, but
        // the engine's argument errors come first. It checks everything
        // before it asks for storage, so the request is checked by refusing
        // the storage it asks for: the repeated call then fails, having
        // changed nothing.
        rc = mpcoap_session_request(st->engine, self->handle, now, &req, &mid);
        if (rc == MPCOAP_NEED_STORAGE) {
            mpcoap_storage_refuse(st->engine);
            rc = mpcoap_session_request(st->engine, self->handle, now, &req, &mid);
            if (rc == MPCOAP_ERR_NO_MEMORY) {
                rc = MPCOAP_ERR_NOT_FOUND; // checked: OSError(ENODEV) below
            }
        } else if (rc >= 0) {
            // Queued without new storage: take it back by renewing the
            // session, which drops its (only) request.
            uint32_t handle;
            mpcoap_session_remove(st->engine, self->handle);
            coap_give_back(st);
            int32_t renewed;
            COAP_ENGINE_CALL(st, renewed, mpcoap_session_new(st->engine, &self->peer, (uintptr_t)self, &handle));
            if (renewed >= 0) {
                self->handle = handle;
            } else {
                coap_detach_user((uintptr_t)self);
            }
            rc = MPCOAP_ERR_NOT_FOUND;
        }
    }
    coap_give_back(st);
    COAP_UNLOCK(st);
    if (rc == MPCOAP_ERR_NOT_FOUND && !have_sockets) {
        coap_socket_module(); // EXCEPTION: OSError(ENODEV)
    }
    if (rc < 0) {
        coap_raise_status(rc);
    }
    coap_flush(st); // EXCEPTION: can raise (not OSError: a failed send is retransmitted)
    return MP_OBJ_NEW_SMALL_INT(mid);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_session_send_request_obj, 1, coap_session_send_request);

// cancel_observe(token) -> bool: ends the observation registered with this
// token (a GET with Observe 1 goes; nothing more reaches the handler for it).
// False if the session has none with that token.
static mp_obj_t coap_session_cancel_observe(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_token, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    coap_session_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    coap_bytes_t token;
    coap_get_value(args[0].u_obj, MP_QSTR_token, false, false, &token); // EXCEPTION: TypeError
    if (token.len > 8) {
        coap_raise_status(MPCOAP_ERR_TOKEN);
    }
    coap_state_t *st = coap_session_lock(self);
    if (st == NULL) {
        coap_raise_session_removed();
    }
    int32_t rc = mpcoap_session_cancel(st->engine, self->handle, coap_now(), true, token.data, token.len);
    coap_give_back(st);
    COAP_UNLOCK(st);
    if (rc < 0) {
        coap_raise_status(rc);
    }
    if (rc > 0 && coap_socket_module_maybe() != MP_OBJ_NULL) {
        coap_flush(st); // the deregistration goes now
    }
    return mp_obj_new_bool(rc > 0);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(coap_session_cancel_observe_obj, 1, coap_session_cancel_observe);

// get_details() -> [destination, port]
static mp_obj_t coap_session_get_details(mp_obj_t self_in) {
    coap_session_obj_t *self = MP_OBJ_TO_PTR(self_in);
    coap_state_t *st = coap_session_lock(self);
    if (st == NULL) {
        coap_raise_session_removed();
    }
    mpcoap_endpoint_t peer = self->peer;
    COAP_UNLOCK(st);
    mp_obj_t items[2] = { coap_ipv4_str(peer.addr), MP_OBJ_NEW_SMALL_INT(peer.port) };
    return mp_obj_new_list(2, items);
}
static MP_DEFINE_CONST_FUN_OBJ_1(coap_session_get_details_obj, coap_session_get_details);

static const mp_rom_map_elem_t coap_session_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_send_request), MP_ROM_PTR(&coap_session_send_request_obj) },
    { MP_ROM_QSTR(MP_QSTR_cancel_observe), MP_ROM_PTR(&coap_session_cancel_observe_obj) },
    { MP_ROM_QSTR(MP_QSTR_get_details), MP_ROM_PTR(&coap_session_get_details_obj) },
};
static MP_DEFINE_CONST_DICT(coap_session_locals_dict, coap_session_locals_dict_table);

// No make_new: sessions are made only by new_client_session().
static MP_DEFINE_CONST_OBJ_TYPE(
    coap_session_type,
    MP_QSTR_CoapClientSession,
    MP_TYPE_FLAG_NONE,
    locals_dict, &coap_session_locals_dict
    );

/******************************************************************************/
// The state object's type: its finaliser

// Runs when the state is swept: after deinit() (nothing left to do), or at
// a soft reset, which sweeps the whole heap. Then it closes the sockets and
// clears the root pointer, which MicroPython does not reset by itself, so
// init() works again. It takes no lock (nobody else can reach this state),
// and allocates nothing (the collector forbids it).
static mp_obj_t coap_state_del(mp_obj_t self_in) {
    coap_state_t *st = MP_OBJ_TO_PTR(self_in);
    coap_state_swap(st, NULL);
    st->closed = true;
    for (size_t i = 0; i < COAP_SOCK_COUNT; ++i) {
        if (st->sock[i] != MP_OBJ_NULL) {
            coap_socket_close(st->sock[i]);
            st->sock[i] = MP_OBJ_NULL;
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(coap_state_del_obj, coap_state_del);

static const mp_rom_map_elem_t coap_state_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&coap_state_del_obj) },
};
static MP_DEFINE_CONST_DICT(coap_state_locals_dict, coap_state_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    coap_state_type,
    MP_QSTR_CoapState,
    MP_TYPE_FLAG_NONE,
    locals_dict, &coap_state_locals_dict
    );

MP_REGISTER_ROOT_POINTER(struct _coap_state_t *coap_state);

/******************************************************************************/
// Called by the Rust engine

// Rust's panic handler ends here, inside an engine call (possibly with the
// lock held and state half-updated) and below a Rust frame, so nothing here
// may raise or run Python code. MicroPython's own printing can: on unix,
// mp_hal_stdout_tx_strn() retries EINTR through mp_handle_pending(), which
// raises pending exceptions and runs scheduled callbacks; on esp32 with USB
// CDC it waits in mp_event_wait_ms(), which does the same (checked in the
// 1.26.1 source).
void mpcoap_port_panic(const uint8_t *msg, size_t len) {
    static const char prefix[] = "coap: engine panic: ";
    char line[sizeof(prefix) + 256];
    size_t n = sizeof(prefix) - 1;
    if (len > sizeof(line) - n - 1) {
        len = sizeof(line) - n - 1;
    }
    memcpy(line, prefix, n);
    memcpy(line + n, msg, len);
    n += len;
    line[n++] = '\n';
    #if COAP_HOSTED
    // The host's write(2) to stderr, nothing of MicroPython.
    const char *p = line;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    #else
    // No scheduled callback may run, and a pending exception stays in this
    // C frame instead of unwinding through the Rust one.
    #if MICROPY_ENABLE_SCHEDULER
    mp_sched_lock();
    #endif
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_hal_stdout_tx_strn(line, n);
        nlr_pop();
    }
    #endif
    abort();
}

/******************************************************************************/
// The module

static const mp_rom_map_elem_t coap_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_coap) },
    // `from coap import Coap; Coap.init()`: Coap is the module itself, as
    // Pycom's network.Coap was a module object.
    { MP_ROM_QSTR(MP_QSTR_Coap), MP_ROM_PTR(&mp_module_coap) },
    { MP_ROM_QSTR(MP_QSTR_CoapResource), MP_ROM_PTR(&coap_resource_type) },
    { MP_ROM_QSTR(MP_QSTR_CoapClientSession), MP_ROM_PTR(&coap_session_type) },

    { MP_ROM_QSTR(MP_QSTR_init), MP_ROM_PTR(&coap_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_deinit), MP_ROM_PTR(&coap_deinit_obj) },
    { MP_ROM_QSTR(MP_QSTR_add_resource), MP_ROM_PTR(&coap_add_resource_obj) },
    { MP_ROM_QSTR(MP_QSTR_remove_resource), MP_ROM_PTR(&coap_remove_resource_obj) },
    { MP_ROM_QSTR(MP_QSTR_get_resource), MP_ROM_PTR(&coap_get_resource_obj) },
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&coap_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_register_response_handler), MP_ROM_PTR(&coap_register_response_handler_obj) },
    { MP_ROM_QSTR(MP_QSTR_new_client_session), MP_ROM_PTR(&coap_new_client_session_obj) },
    { MP_ROM_QSTR(MP_QSTR_remove_client_session), MP_ROM_PTR(&coap_remove_client_session_obj) },
    { MP_ROM_QSTR(MP_QSTR_get_client_sessions), MP_ROM_PTR(&coap_get_client_sessions_obj) },
    { MP_ROM_QSTR(MP_QSTR__process), MP_ROM_PTR(&coap_process_obj) },
    { MP_ROM_QSTR(MP_QSTR__transmit), MP_ROM_PTR(&coap_transmit_obj) },
    { MP_ROM_QSTR(MP_QSTR__repeat), MP_ROM_PTR(&coap_repeat_obj) },
    { MP_ROM_QSTR(MP_QSTR__stack), MP_ROM_PTR(&coap_stack_obj) },
    { MP_ROM_QSTR(MP_QSTR__fail_storage), MP_ROM_PTR(&coap_fail_storage_obj) },
    { MP_ROM_QSTR(MP_QSTR__storage), MP_ROM_PTR(&coap_storage_obj) },
    { MP_ROM_QSTR(MP_QSTR__serve), MP_ROM_PTR(&coap_serve_obj) },
    { MP_ROM_QSTR(MP_QSTR__step), MP_ROM_PTR(&coap_step_obj) },
    { MP_ROM_QSTR(MP_QSTR__next_timeout), MP_ROM_PTR(&coap_next_timeout_obj) },
    { MP_ROM_QSTR(MP_QSTR__sockets), MP_ROM_PTR(&coap_sockets_obj) },
    { MP_ROM_QSTR(MP_QSTR__await), MP_ROM_PTR(&coap_await_obj) },
    #if MICROPY_PY_COAP_TEST_KNOBS
    { MP_ROM_QSTR(MP_QSTR__set_ack_timeout), MP_ROM_PTR(&coap_set_ack_timeout_obj) },
    #endif

    { MP_ROM_QSTR(MP_QSTR_MEDIATYPE_TEXT_PLAIN), MP_ROM_INT(0) },
    { MP_ROM_QSTR(MP_QSTR_MEDIATYPE_APP_LINK_FORMAT), MP_ROM_INT(40) },
    { MP_ROM_QSTR(MP_QSTR_MEDIATYPE_APP_XML), MP_ROM_INT(41) },
    { MP_ROM_QSTR(MP_QSTR_MEDIATYPE_APP_OCTET_STREAM), MP_ROM_INT(42) },
    { MP_ROM_QSTR(MP_QSTR_MEDIATYPE_APP_RDF_XML), MP_ROM_INT(43) },
    { MP_ROM_QSTR(MP_QSTR_MEDIATYPE_APP_EXI), MP_ROM_INT(47) },
    { MP_ROM_QSTR(MP_QSTR_MEDIATYPE_APP_JSON), MP_ROM_INT(50) },
    { MP_ROM_QSTR(MP_QSTR_MEDIATYPE_APP_CBOR), MP_ROM_INT(60) },
    { MP_ROM_QSTR(MP_QSTR_REQUEST_GET), MP_ROM_INT(MPCOAP_REQUEST_GET) },
    { MP_ROM_QSTR(MP_QSTR_REQUEST_PUT), MP_ROM_INT(MPCOAP_REQUEST_PUT) },
    { MP_ROM_QSTR(MP_QSTR_REQUEST_POST), MP_ROM_INT(MPCOAP_REQUEST_POST) },
    { MP_ROM_QSTR(MP_QSTR_REQUEST_DELETE), MP_ROM_INT(MPCOAP_REQUEST_DELETE) },
    { MP_ROM_QSTR(MP_QSTR_PROTOCOL_UDP), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_TIMEOUT), MP_ROM_INT(MPCOAP_TYPE_TIMEOUT) },
};
static MP_DEFINE_CONST_DICT(coap_module_globals, coap_module_globals_table);

const mp_obj_module_t mp_module_coap = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&coap_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_coap, mp_module_coap);

#if MICROPY_MODULE_ATTR_DELEGATION
// Attributes whose values come from the engine at run time, answered when
// the module's table has no entry. Not static: the generated delegation
// table refers to it.
void mp_module_coap_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    (void)self_in;
    if (dest[0] != MP_OBJ_NULL) {
        return;
    }
    if (attr == MP_QSTR_VALUE_MAX) {
        // The largest resource value (it must fit one response).
        dest[0] = MP_OBJ_NEW_SMALL_INT(mpcoap_value_max());
    } else if (attr == MP_QSTR_REMOTE_BUDGET) {
        // The default of init()'s remote_budget, bytes.
        dest[0] = mp_obj_new_int_from_uint(mpcoap_remote_budget_default());
    }
}
MP_REGISTER_MODULE_DELEGATION(mp_module_coap, mp_module_coap_attr);
#endif

// `from network import Coap`.
#if MICROPY_PY_NETWORK
#if MICROPY_MODULE_ATTR_DELEGATION
// The port has a network module (esp32): answer the lookups its own table
// misses. Not static: the generated delegation table refers to it.
void mp_module_coap_network_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    (void)self_in;
    if (dest[0] == MP_OBJ_NULL && attr == MP_QSTR_Coap) {
        dest[0] = MP_OBJ_FROM_PTR(&mp_module_coap);
    }
}
MP_REGISTER_MODULE_DELEGATION(mp_module_network, mp_module_coap_network_attr);
#endif
#else
// The port has no network module (unix, qemu): provide one holding Coap.
static const mp_rom_map_elem_t coap_network_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_network) },
    { MP_ROM_QSTR(MP_QSTR_Coap), MP_ROM_PTR(&mp_module_coap) },
};
static MP_DEFINE_CONST_DICT(coap_network_globals, coap_network_globals_table);

const mp_obj_module_t mp_module_coap_network = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&coap_network_globals,
};

MP_REGISTER_MODULE(MP_QSTR_network, mp_module_coap_network);
#endif

#endif // MICROPY_PY_COAP

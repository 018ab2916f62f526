//! The C ABI of `mod/mpcoap.h`, implemented over [`crate::engine`].
//!
//! Every function checks what it can (null pointers, lengths, the engine
//! block's alignment and size, integer ranges) before touching the engine,
//! so that a call that fails has changed nothing, and none of them can
//! panic. What cannot be checked is that `eng` points at a block that
//! [`mpcoap_engine_init`] initialised and that no other call uses it at the
//! same time: the shim guarantees both (its mutex serialises every call).
//!
//! Each definition is type-checked against bindgen's declaration of the same
//! function (see `same_signature!`), so the header and this file cannot
//! drift apart silently.

mod layout;
// Only where the crate is built with panic = "abort" and without std (the
// staticlib, plain builds): test, doctest and bench builds are forced to
// unwind and link std, and feature `std` links it too; std brings its own
// handler.
#[cfg(all(not(test), not(feature = "std"), panic = "abort"))]
mod panic;
mod status;
#[cfg(test)]
mod tests;

use core::ffi::{c_char, c_void};
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr;

use micropython_sys as sys;
use micropython_sys::{mpcoap_endpoint_t, mpcoap_event_t, mpcoap_request_t, mpcoap_storage_stats_t};

use crate::capacity;
use crate::engine::{Endpoint, Engine, Event, Instant, Methods, Request, ResourceHandle, SessionHandle};

pub use status::{mpcoap_status_arg, mpcoap_status_kind, mpcoap_status_message};

type Status = i32;

const OK: Status = sys::MPCOAP_OK;
const ERR_URI: Status = sys::MPCOAP_ERR_URI;
const ERR_ATTRIBUTE: Status = sys::MPCOAP_ERR_ATTRIBUTE;
const ERR_MEDIA_TYPE: Status = sys::MPCOAP_ERR_MEDIA_TYPE;
const ERR_MAX_AGE: Status = sys::MPCOAP_ERR_MAX_AGE;
const ERR_TOKEN: Status = sys::MPCOAP_ERR_TOKEN;
const ERR_BUFFER: Status = sys::MPCOAP_ERR_BUFFER;
const ERR_NOT_FOUND: Status = sys::MPCOAP_ERR_NOT_FOUND;
const ERR_MEMORY: Status = sys::MPCOAP_ERR_MEMORY;

// The header repeats this capacity for the shim's buffer.
const _: () = assert!(sys::MPCOAP_MESSAGE_MAX as usize == capacity::MESSAGE_MAX);
const _: () = assert!(sys::MPCOAP_TYPE_TIMEOUT == crate::engine::TYPE_TIMEOUT as u32);
const _: () = assert!(sys::MPCOAP_REQUEST_GET == Methods::GET.0);
const _: () = assert!(sys::MPCOAP_REQUEST_PUT == Methods::PUT.0);
const _: () = assert!(sys::MPCOAP_REQUEST_POST == Methods::POST.0);
const _: () = assert!(sys::MPCOAP_REQUEST_DELETE == Methods::DELETE.0);
// A datagram length always fits the i32 that poll_transmit returns.
const _: () = assert!(capacity::MESSAGE_MAX <= i32::MAX as usize);

/// Fails to compile unless our definition and bindgen's declaration of the
/// function both have exactly the spelled signature.
macro_rules! same_signature {
    ($($name:ident: $ty:ty;)*) => {
        $(
            const _: $ty = sys::$name;
            const _: $ty = $name;
        )*
    };
}

same_signature! {
    mpcoap_status_kind: unsafe extern "C" fn(i32) -> i32;
    mpcoap_status_message: unsafe extern "C" fn(i32) -> *const c_char;
    mpcoap_status_arg: unsafe extern "C" fn(i32) -> u32;
    mpcoap_engine_size: unsafe extern "C" fn() -> usize;
    mpcoap_engine_align: unsafe extern "C" fn() -> usize;
    mpcoap_engine_init: unsafe extern "C" fn(*mut c_void, usize, u32, u32, u32) -> i32;
    mpcoap_value_max: unsafe extern "C" fn() -> usize;
    mpcoap_remote_budget_default: unsafe extern "C" fn() -> u32;
    mpcoap_engine_take_user: unsafe extern "C" fn(*mut c_void, *mut usize) -> i32;
    mpcoap_storage_need: unsafe extern "C" fn(*mut c_void) -> usize;
    mpcoap_storage_grant: unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> i32;
    mpcoap_storage_refuse: unsafe extern "C" fn(*mut c_void);
    mpcoap_storage_take: unsafe extern "C" fn(*mut c_void, *mut usize) -> *mut c_void;
    mpcoap_storage_stats: unsafe extern "C" fn(*mut c_void, *mut mpcoap_storage_stats_t);
    mpcoap_resource_add: unsafe extern "C" fn(
        *mut c_void, *const u8, usize, i32, i64, *const u8, usize, bool, usize, *mut u32) -> i32;
    mpcoap_resource_find: unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut u32, *mut usize) -> i32;
    mpcoap_resource_user: unsafe extern "C" fn(*mut c_void, usize) -> usize;
    mpcoap_resource_remove: unsafe extern "C" fn(*mut c_void, u32) -> i32;
    mpcoap_resource_value: unsafe extern "C" fn(*mut c_void, u32, *mut *const u8, *mut usize) -> i32;
    mpcoap_resource_set_value: unsafe extern "C" fn(*mut c_void, u32, *const u8, usize) -> i32;
    mpcoap_resource_add_attribute: unsafe extern "C" fn(
        *mut c_void, u32, *const u8, usize, *const u8, usize) -> i32;
    mpcoap_resource_set_methods: unsafe extern "C" fn(*mut c_void, u32, u32, bool) -> i32;
    mpcoap_resource_set_observable: unsafe extern "C" fn(*mut c_void, u32, bool) -> i32;
    mpcoap_session_new: unsafe extern "C" fn(*mut c_void, *const mpcoap_endpoint_t, usize, *mut u32) -> i32;
    mpcoap_session_user: unsafe extern "C" fn(*mut c_void, usize) -> usize;
    mpcoap_session_user_to: unsafe extern "C" fn(*mut c_void, *const mpcoap_endpoint_t, usize) -> usize;
    mpcoap_session_remove: unsafe extern "C" fn(*mut c_void, u32) -> i32;
    mpcoap_session_cancel: unsafe extern "C" fn(*mut c_void, u32, u32, bool, *const u8, usize) -> i32;
    mpcoap_session_request: unsafe extern "C" fn(
        *mut c_void, u32, u32, *const mpcoap_request_t, *mut u16) -> i32;
    mpcoap_engine_receive: unsafe extern "C" fn(
        *mut c_void, u32, *const mpcoap_endpoint_t, bool, *const u8, usize,
        *mut u8, usize, *mut usize, *mut mpcoap_event_t) -> i32;
    mpcoap_engine_poll_transmit: unsafe extern "C" fn(
        *mut c_void, u32, *mut u8, usize, *mut mpcoap_endpoint_t) -> i32;
    mpcoap_engine_poll_event: unsafe extern "C" fn(*mut c_void, u32, *mut mpcoap_event_t) -> i32;
    mpcoap_engine_next_timeout: unsafe extern "C" fn(*mut c_void, u32) -> i32;
    mpcoap_engine_set_ack_timeout: unsafe extern "C" fn(*mut c_void, u32) -> i32;
}

// ---- checked conversions from C arguments ----------------------------------

/// The engine in the block at `eng`.
///
/// # Safety
/// `eng` is null or points at a block that `mpcoap_engine_init` initialised,
/// used by no one else for the lifetime `'a`.
unsafe fn engine<'a>(eng: *mut c_void) -> Result<&'a mut Engine, Status> {
    let p = eng.cast::<Engine>();
    if p.is_null() || !p.is_aligned() {
        return Err(ERR_MEMORY);
    }
    // SAFETY: non-null and aligned (checked); initialised and not aliased
    // (the caller's contract).
    Ok(unsafe { &mut *p })
}

/// `len` bytes at `p`; `p` may be null only when `len` is 0.
///
/// # Safety
/// If non-null, `p` points at `len` readable bytes that nothing writes for `'a`.
unsafe fn bytes<'a>(p: *const u8, len: usize, err: Status) -> Result<&'a [u8], Status> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() || len > isize::MAX as usize {
        return Err(err);
    }
    // SAFETY: non-null, u8 needs no alignment, length within isize (checked);
    // readable and unaliased for 'a (the caller's contract).
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// `cap` writable bytes at `p`.
///
/// # Safety
/// If non-null, `p` points at `cap` writable bytes that nothing else uses for `'a`.
unsafe fn bytes_mut<'a>(p: *mut u8, cap: usize) -> Result<&'a mut [u8], Status> {
    if p.is_null() || cap > isize::MAX as usize {
        return Err(ERR_BUFFER);
    }
    // SAFETY: non-null, u8 needs no alignment, length within isize (checked);
    // writable and unaliased for 'a (the caller's contract).
    Ok(unsafe { core::slice::from_raw_parts_mut(p, cap) })
}

/// An output parameter: non-null and aligned, or `MPCOAP_ERR_BUFFER`.
/// Checked before the engine is called, written after it succeeded.
struct Out<T>(*mut T);

impl<T> Out<T> {
    fn new(p: *mut T) -> Result<Self, Status> {
        if p.is_null() || !p.is_aligned() {
            Err(ERR_BUFFER)
        } else {
            Ok(Out(p))
        }
    }

    /// # Safety
    /// The pointer given to [`Out::new`] is valid for a write of one `T`.
    unsafe fn set(&self, v: T) {
        // SAFETY: non-null and aligned (checked in new), valid for writes
        // (the caller's contract); `T` here is plain data, so nothing is
        // dropped by overwriting.
        unsafe { self.0.write(v) }
    }
}

/// One C struct argument, copied.
///
/// # Safety
/// If non-null, `p` points at a readable `T`.
unsafe fn read<T: Copy>(p: *const T) -> Result<T, Status> {
    if p.is_null() || !p.is_aligned() {
        return Err(ERR_BUFFER);
    }
    // SAFETY: non-null and aligned (checked), readable (the caller's contract).
    Ok(unsafe { p.read() })
}

/// -1 = absent, 0..=65535 = present.
fn optional_u16(v: i32, err: Status) -> Result<Option<u16>, Status> {
    match v {
        -1 => Ok(None),
        _ => u16::try_from(v).map(Some).map_err(|_| err),
    }
}

fn endpoint(e: &mpcoap_endpoint_t) -> Endpoint {
    Endpoint { addr: e.addr, port: e.port }
}

fn c_endpoint(e: Endpoint) -> mpcoap_endpoint_t {
    mpcoap_endpoint_t { addr: e.addr, port: e.port }
}

fn empty_event() -> mpcoap_event_t {
    mpcoap_event_t {
        kind: sys::MPCOAP_EVENT_NONE,
        handle: 0,
        user: 0,
        code: 0,
        type_: 0,
        mid: 0,
        token: ptr::null(),
        token_len: 0,
        payload: ptr::null(),
        payload_len: 0,
    }
}

fn c_event(ev: &Event<'_>) -> mpcoap_event_t {
    match ev {
        Event::Response(r) => mpcoap_event_t {
            kind: sys::MPCOAP_EVENT_RESPONSE,
            handle: r.session.raw(),
            // Filled in by `with_session_user` once the event's borrow ends.
            user: 0,
            code: r.code,
            type_: r.message_type,
            mid: r.mid,
            token: r.token.as_ptr(),
            token_len: r.token.len(),
            payload: r.payload.as_ptr(),
            payload_len: r.payload.len(),
        },
        Event::ResourceDeleted(h, user) => mpcoap_event_t {
            kind: sys::MPCOAP_EVENT_RESOURCE_DELETED,
            handle: h.raw(),
            user: *user,
            ..empty_event()
        },
    }
}

/// A response event with its session's user word.
fn with_session_user(e: &Engine, mut ev: mpcoap_event_t) -> mpcoap_event_t {
    if ev.kind == sys::MPCOAP_EVENT_RESPONSE {
        ev.user = e.session_user(SessionHandle::from_raw(ev.handle)).unwrap_or(0);
    }
    ev
}

/// Collapses a body's result into the C return value.
fn ret(r: Result<Status, Status>) -> Status {
    r.unwrap_or_else(|e| e)
}

// ---- engine lifecycle --------------------------------------------------------

/// Bytes of the engine block.
#[no_mangle]
pub extern "C" fn mpcoap_engine_size() -> usize {
    size_of::<Engine>()
}

/// Alignment the engine block needs.
#[no_mangle]
pub extern "C" fn mpcoap_engine_align() -> usize {
    align_of::<Engine>()
}

/// Initialises the engine in `mem` (`len` bytes).
///
/// # Safety
/// `mem` is null or points at `len` writable bytes owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_engine_init(mem: *mut c_void, len: usize, now_ms: u32, seed: u32, remote_budget: u32) -> i32 {
    let p = mem.cast::<MaybeUninit<Engine>>();
    if p.is_null() || !p.is_aligned() || len < size_of::<Engine>() {
        return ERR_MEMORY;
    }
    // SAFETY: non-null, aligned and at least size_of::<Engine>() bytes
    // (checked), writable and owned by the caller (contract); MaybeUninit
    // makes no claim about the current contents.
    let slot = unsafe { &mut *p };
    Engine::init_in_place(slot, Instant(now_ms), seed).set_remote_budget(remote_budget);
    OK
}

/// Largest value a resource can hold.
#[no_mangle]
pub extern "C" fn mpcoap_value_max() -> usize {
    capacity::VALUE_MAX
}

/// The default remote budget.
#[no_mangle]
pub extern "C" fn mpcoap_remote_budget_default() -> u32 {
    capacity::REMOTE_BUDGET
}

/// Removes the oldest resource, else the oldest session; 1 and its user
/// word in `*user`, or 0 when nothing is left.
///
/// # Safety
/// `eng` an initialised block, `user` writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_engine_take_user(eng: *mut c_void, user: *mut usize) -> i32 {
    ret((|| {
        let user = Out::new(user)?;
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        match e.take_user() {
            None => Ok(0),
            Some(u) => {
                // SAFETY: checked by Out::new, writable by contract.
                unsafe { user.set(u) };
                Ok(1)
            }
        }
    })())
}

// ---- storage ---------------------------------------------------------------------

/// Bytes the last call asked for (`MPCOAP_NEED_STORAGE`); 0 for a bad block.
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_storage_need(eng: *mut c_void) -> usize {
    // SAFETY: the caller's contract.
    unsafe { engine(eng) }.map_or(0, |e| e.storage_need())
}

/// Grants the block the last call asked for; `MPCOAP_ERR_MEMORY` (and the
/// caller keeps it) if it is null, misaligned or not the size asked for.
///
/// # Safety
/// `eng` an initialised block; `block` valid for reads and writes of `size`
/// bytes and used by nobody else until `mpcoap_storage_take` returns it.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_storage_grant(eng: *mut c_void, block: *mut c_void, size: usize) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        let block = ptr::NonNull::new(block.cast::<u8>()).ok_or(ERR_MEMORY)?;
        // SAFETY: the caller's contract (see the function's docs).
        unsafe { e.storage_grant(block, size) }.map_err(|_| ERR_MEMORY)?;
        Ok(OK)
    })())
}

/// The heap cannot supply: the repeated call fails (or answers 5.03).
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_storage_refuse(eng: *mut c_void) {
    // SAFETY: the caller's contract.
    if let Ok(e) = unsafe { engine(eng) } {
        e.storage_refuse();
    }
}

/// A block the engine no longer uses (its size in `*size`), or null.
///
/// # Safety
/// `eng` an initialised block, `size` writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_storage_take(eng: *mut c_void, size: *mut usize) -> *mut c_void {
    let Ok(size) = Out::new(size) else { return ptr::null_mut() };
    // SAFETY: the caller's contract.
    let Ok(e) = (unsafe { engine(eng) }) else { return ptr::null_mut() };
    match e.storage_take() {
        None => ptr::null_mut(),
        Some((b, n)) => {
            // SAFETY: checked by Out::new, writable by contract.
            unsafe { size.set(n) };
            b.as_ptr().cast()
        }
    }
}

/// What the engine holds (all zero for a bad block).
///
/// # Safety
/// `eng` an initialised block, `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_storage_stats(eng: *mut c_void, out: *mut mpcoap_storage_stats_t) {
    let Ok(out) = Out::new(out) else { return };
    // SAFETY: the caller's contract.
    let s = unsafe { engine(eng) }.map(|e| e.storage_stats()).unwrap_or_default();
    let c = mpcoap_storage_stats_t {
        blocks: s.blocks,
        bytes: s.bytes,
        remote_bytes: s.remote_bytes,
        remote_budget: s.remote_budget,
    };
    // SAFETY: checked by Out::new, writable by contract.
    unsafe { out.set(c) };
}

// ---- resources -----------------------------------------------------------------

/// Adds a resource; see `mod/mpcoap.h`.
///
/// # Safety
/// Pointers as described in `mod/mpcoap.h`: `eng` an initialised block,
/// `uri`/`value` readable for their lengths (or null when 0), `handle`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_resource_add(
    eng: *mut c_void,
    uri: *const u8,
    uri_len: usize,
    media_type: i32,
    max_age: i64,
    value: *const u8,
    value_len: usize,
    etag: bool,
    user: usize,
    handle: *mut u32,
) -> i32 {
    ret((|| {
        let handle = Out::new(handle)?;
        let media_type = optional_u16(media_type, ERR_MEDIA_TYPE)?;
        let max_age = match max_age {
            -1 => None,
            _ => Some(u32::try_from(max_age).map_err(|_| ERR_MAX_AGE)?),
        };
        // SAFETY: the caller's contract (see the function's docs).
        let (e, uri, value) = unsafe { (engine(eng)?, bytes(uri, uri_len, ERR_URI)?, bytes(value, value_len, ERR_BUFFER)?) };
        let h = e.add_resource_with_user(uri, media_type, max_age, value, etag, user).map_err(status::of)?;
        // SAFETY: checked by Out::new, writable by contract.
        unsafe { handle.set(h.raw()) };
        Ok(OK)
    })())
}

/// Finds a resource by uri; `MPCOAP_ERR_NOT_FOUND` if none.
///
/// # Safety
/// As [`mpcoap_resource_add`].
#[no_mangle]
pub unsafe extern "C" fn mpcoap_resource_find(
    eng: *mut c_void,
    uri: *const u8,
    uri_len: usize,
    handle: *mut u32,
    user: *mut usize,
) -> i32 {
    ret((|| {
        let (handle, user) = (Out::new(handle)?, Out::new(user)?);
        // SAFETY: the caller's contract.
        let (e, uri) = unsafe { (engine(eng)?, bytes(uri, uri_len, ERR_URI)?) };
        let h = e.find_resource(uri).ok_or(ERR_NOT_FOUND)?;
        let u = e.resource_user(h).map_err(status::of)?;
        // SAFETY: checked by Out::new, writable by contract.
        unsafe {
            handle.set(h.raw());
            user.set(u);
        }
        Ok(OK)
    })())
}

/// The user word of the `index`-th resource in the order added; 0 past
/// the end (or for a bad block).
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_resource_user(eng: *mut c_void, index: usize) -> usize {
    // SAFETY: the caller's contract.
    unsafe { engine(eng) }.ok().and_then(|e| e.resource_user_at(index)).unwrap_or(0)
}

/// Removes a resource.
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_resource_remove(eng: *mut c_void, handle: u32) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        e.remove_resource(ResourceHandle::from_raw(handle)).map_err(status::of)?;
        Ok(OK)
    })())
}

/// The value of a resource; `*value` points into the engine block.
///
/// # Safety
/// `eng` an initialised block, `value` and `len` writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_resource_value(eng: *mut c_void, handle: u32, value: *mut *const u8, len: *mut usize) -> i32 {
    ret((|| {
        let (value, len) = (Out::new(value)?, Out::new(len)?);
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        let v = e.resource_value(ResourceHandle::from_raw(handle)).map_err(status::of)?;
        // SAFETY: checked by Out::new, writable by contract.
        unsafe {
            value.set(v.as_ptr());
            len.set(v.len());
        }
        Ok(OK)
    })())
}

/// Replaces a resource's value.
///
/// # Safety
/// `eng` an initialised block, `value` readable for `len` bytes (or null when 0).
#[no_mangle]
pub unsafe extern "C" fn mpcoap_resource_set_value(eng: *mut c_void, handle: u32, value: *const u8, len: usize) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let (e, v) = unsafe { (engine(eng)?, bytes(value, len, ERR_BUFFER)?) };
        e.set_resource_value(ResourceHandle::from_raw(handle), v).map_err(status::of)?;
        Ok(OK)
    })())
}

/// Adds an attribute to a resource.
///
/// # Safety
/// `eng` an initialised block, `name`/`value` readable for their lengths (or
/// null when 0).
#[no_mangle]
pub unsafe extern "C" fn mpcoap_resource_add_attribute(
    eng: *mut c_void,
    handle: u32,
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let (e, n, v) = unsafe { (engine(eng)?, bytes(name, name_len, ERR_ATTRIBUTE)?, bytes(value, value_len, ERR_BUFFER)?) };
        e.add_attribute(ResourceHandle::from_raw(handle), n, v).map_err(status::of)?;
        Ok(OK)
    })())
}

/// Enables or disables methods (OR of `MPCOAP_REQUEST_*`) of a resource.
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_resource_set_methods(eng: *mut c_void, handle: u32, operation: u32, enable: bool) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        e.set_methods(ResourceHandle::from_raw(handle), Methods(operation), enable).map_err(status::of)?;
        Ok(OK)
    })())
}

/// Marks a resource observable or not (RFC 7641).
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_resource_set_observable(eng: *mut c_void, handle: u32, observable: bool) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        e.set_observable(ResourceHandle::from_raw(handle), observable).map_err(status::of)?;
        Ok(OK)
    })())
}

// ---- client sessions -------------------------------------------------------------

/// Creates a client session with `peer`.
///
/// # Safety
/// `eng` an initialised block, `peer` readable, `handle` writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_session_new(
    eng: *mut c_void,
    peer: *const mpcoap_endpoint_t,
    user: usize,
    handle: *mut u32,
) -> i32 {
    ret((|| {
        let handle = Out::new(handle)?;
        // SAFETY: the caller's contract.
        let (e, peer) = unsafe { (engine(eng)?, read(peer)?) };
        let h = e.new_session_with_user(endpoint(&peer), user).map_err(status::of)?;
        // SAFETY: checked by Out::new, writable by contract.
        unsafe { handle.set(h.raw()) };
        Ok(OK)
    })())
}

/// The user word of the `index`-th session in the order created; 0 past
/// the end (or for a bad block).
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_session_user(eng: *mut c_void, index: usize) -> usize {
    // SAFETY: the caller's contract.
    unsafe { engine(eng) }.ok().and_then(|e| e.session_user_at(index)).unwrap_or(0)
}

/// The user word of the `index`-th session to `peer`, in the order
/// created; 0 past the end (or for a bad block or peer).
///
/// # Safety
/// `eng` an initialised block, `peer` readable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_session_user_to(eng: *mut c_void, peer: *const mpcoap_endpoint_t, index: usize) -> usize {
    // SAFETY: the caller's contract.
    let (Ok(e), Ok(peer)) = (unsafe { engine(eng) }, unsafe { read(peer) }) else { return 0 };
    e.session_user_to(endpoint(&peer), index).unwrap_or(0)
}

/// Removes a client session and its requests.
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_session_remove(eng: *mut c_void, handle: u32) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        e.remove_session(SessionHandle::from_raw(handle)).map_err(status::of)?;
        Ok(OK)
    })())
}

/// Cancels the session's request that carries the token (no event, no more
/// retransmissions), or with `observe` ends its observation with that token
/// (`Engine::cancel_observe`): 1 if there was one, 0 if not.
///
/// # Safety
/// `eng` an initialised block, `token` readable for `token_len` bytes (or
/// null when 0).
#[no_mangle]
pub unsafe extern "C" fn mpcoap_session_cancel(
    eng: *mut c_void,
    handle: u32,
    now_ms: u32,
    observe: bool,
    token: *const u8,
    token_len: usize,
) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let (e, token) = unsafe { (engine(eng)?, bytes(token, token_len, ERR_TOKEN)?) };
        let h = SessionHandle::from_raw(handle);
        let found = if observe { e.cancel_observe(h, token, Instant(now_ms)) } else { e.cancel_request(h, token) };
        Ok(i32::from(found.map_err(status::of)?))
    })())
}

/// Queues a confirmable request; `*mid` receives its message ID.
///
/// # Safety
/// `eng` an initialised block, `req` readable with its pointers readable for
/// their lengths (or null when 0), `mid` writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_session_request(
    eng: *mut c_void,
    handle: u32,
    now_ms: u32,
    req: *const mpcoap_request_t,
    mid: *mut u16,
) -> i32 {
    ret((|| {
        let mid = Out::new(mid)?;
        // SAFETY: the caller's contract.
        let r = unsafe { read(req)? };
        let content_format = optional_u16(r.content_format, ERR_MEDIA_TYPE)?;
        // SAFETY: the caller's contract covers the request's pointers.
        let (e, uri, payload, token) = unsafe {
            (
                engine(eng)?,
                bytes(r.uri, r.uri_len, ERR_URI)?,
                bytes(r.payload, r.payload_len, ERR_BUFFER)?,
                bytes(r.token, r.token_len, ERR_TOKEN)?,
            )
        };
        let request = Request {
            method: Methods(r.method),
            uri,
            content_format,
            payload,
            token,
            include_options: r.include_options,
            observe: r.observe,
        };
        let m = e
            .send_request(SessionHandle::from_raw(handle), &request, Instant(now_ms))
            .map_err(status::of)?;
        // SAFETY: checked by Out::new, writable by contract.
        unsafe { mid.set(m) };
        Ok(OK)
    })())
}

// ---- datagrams, time and events ---------------------------------------------------

/// Handles one received datagram; see `mod/mpcoap.h`.
///
/// # Safety
/// `eng` an initialised block, `from` readable, `data` readable for `len`
/// bytes (or null when 0), `reply` writable for `reply_cap` bytes,
/// `reply_len` and `event` writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_engine_receive(
    eng: *mut c_void,
    now_ms: u32,
    from: *const mpcoap_endpoint_t,
    via_multicast: bool,
    data: *const u8,
    len: usize,
    reply: *mut u8,
    reply_cap: usize,
    reply_len: *mut usize,
    event: *mut mpcoap_event_t,
) -> i32 {
    ret((|| {
        let (reply_len, event) = (Out::new(reply_len)?, Out::new(event)?);
        // SAFETY: the caller's contract.
        let (e, from, data, reply) =
            unsafe { (engine(eng)?, read(from)?, bytes(data, len, ERR_BUFFER)?, bytes_mut(reply, reply_cap)?) };
        let got = e
            .receive(Instant(now_ms), endpoint(&from), via_multicast, data, reply)
            .map_err(status::of)?;
        let n = got.reply_len;
        let (c_ev, filled) = match &got.event {
            Some(ev) => (c_event(ev), 1),
            None => (empty_event(), 0),
        };
        let c_ev = with_session_user(e, c_ev);
        // SAFETY: checked by Out::new, writable by contract.
        unsafe {
            reply_len.set(n);
            event.set(c_ev);
        }
        Ok(filled)
    })())
}

/// The next datagram to send; its length, 0 if none, or a negative status.
///
/// # Safety
/// `eng` an initialised block, `buf` writable for `cap` bytes, `dest` writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_engine_poll_transmit(
    eng: *mut c_void,
    now_ms: u32,
    buf: *mut u8,
    cap: usize,
    dest: *mut mpcoap_endpoint_t,
) -> i32 {
    ret((|| {
        let dest = Out::new(dest)?;
        // SAFETY: the caller's contract.
        let (e, buf) = unsafe { (engine(eng)?, bytes_mut(buf, cap)?) };
        match e.poll_transmit(Instant(now_ms), buf).map_err(status::of)? {
            None => Ok(0),
            Some((to, n)) => {
                // SAFETY: checked by Out::new, writable by contract.
                unsafe { dest.set(c_endpoint(to)) };
                // n <= MESSAGE_MAX <= i32::MAX (asserted above).
                Ok(i32::try_from(n).unwrap_or(i32::MAX))
            }
        }
    })())
}

/// Events that arise from time passing: 1 if `*event` was filled, 0 if none.
///
/// # Safety
/// `eng` an initialised block, `event` writable.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_engine_poll_event(eng: *mut c_void, now_ms: u32, event: *mut mpcoap_event_t) -> i32 {
    ret((|| {
        let event = Out::new(event)?;
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        let Some(c_ev) = e.poll_event(Instant(now_ms)).map(|ev| c_event(&ev)) else { return Ok(0) };
        let c_ev = with_session_user(e, c_ev);
        // SAFETY: checked by Out::new, writable by contract.
        unsafe { event.set(c_ev) };
        Ok(1)
    })())
}

/// Milliseconds until the next deadline, 0 if due, -1 if idle;
/// `MPCOAP_ERR_MEMORY` for a null or misaligned block.
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_engine_next_timeout(eng: *mut c_void, now_ms: u32) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        Ok(match e.poll_timeout(Instant(now_ms)) {
            None => -1,
            Some(ms) => i32::try_from(ms).unwrap_or(i32::MAX),
        })
    })())
}

/// Host tests' knob: shortens ACK_TIMEOUT for requests sent from now on
/// (0, or more than the shipped value, restores it). Returns the
/// ACK_TIMEOUT in force, in ms.
///
/// # Safety
/// `eng` is an initialised engine block.
#[no_mangle]
pub unsafe extern "C" fn mpcoap_engine_set_ack_timeout(eng: *mut c_void, ms: u32) -> i32 {
    ret((|| {
        // SAFETY: the caller's contract.
        let e = unsafe { engine(eng)? };
        // At most the shipped ACK_TIMEOUT, which fits an i32.
        Ok(i32::try_from(e.set_ack_timeout_ms(ms)).unwrap_or(i32::MAX))
    })())
}

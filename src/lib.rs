//! CoAP (RFC 7252) engine for MicroPython's `coap` module.
//!
//! The layers, top to bottom of this crate:
//! - [`codec`]: the wire format (parse and emit one datagram), no state;
//! - [`engine`]: the message layer, the server and the client, driven by
//!   datagrams and a millisecond clock that the caller passes in;
//! - [`capacity`]: every capacity, in one place;
//! - `ffi` (feature `micropython`): the C ABI of `mod/mpcoap.h`.
//!
//! `no_std`, no `alloc`: all state lives in one [`engine::Engine`] value
//! whose size follows from [`capacity`].
#![cfg_attr(not(test), no_std)]

pub mod capacity;
pub mod codec;
pub mod engine;

#[cfg(feature = "micropython")]
mod ffi;

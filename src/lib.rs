//! CoAP (RFC 7252) engine for MicroPython's `coap` module.
//!
//! The layers, top to bottom of this crate:
//! - [`codec`]: the wire format (parse and emit one datagram), no state;
//! - [`engine`]: the message layer, the server and the client, driven by
//!   datagrams and a millisecond clock that the caller passes in;
//! - [`capacity`]: every capacity, in one place;
//! - `ffi` (feature `micropython`): the C ABI of `mod/mpcoap.h`.
//!
//! `no_std`, no `alloc`: the state lives in one [`engine::Engine`] value of
//! fixed size, plus blocks the caller grants when a call asks for storage
//! (`engine::Error::NeedStorage`). Feature `std` adds `engine::Heap`, a
//! supply of such blocks for hosted use (tests, fuzzing, examples).
#![cfg_attr(not(any(test, feature = "std")), no_std)]

#[cfg(all(feature = "std", not(test)))]
extern crate std;

pub mod capacity;
pub mod codec;
pub mod engine;

#[cfg(feature = "micropython")]
mod ffi;

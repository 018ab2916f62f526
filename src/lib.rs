//! CoAP engine for MicroPython's `coap` module (placeholder: filled in by the codec and engine work).
#![cfg_attr(not(test), no_std)]

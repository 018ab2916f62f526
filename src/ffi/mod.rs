//! The C ABI of `mod/mpcoap.h` over the engine (work in progress).

mod layout;
#[cfg(not(test))]
mod panic;

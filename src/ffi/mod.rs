//! The C ABI of mod/mpcoap.h (filled in by the binding work).

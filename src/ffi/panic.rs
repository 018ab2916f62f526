//! The panic handler of the MicroPython archive: the engine is written not to
//! panic, so reaching this is a bug; it reports through the shim and aborts.

use core::fmt::Write;
use core::panic::PanicInfo;

/// Fixed buffer the message is formatted into; longer messages are cut.
struct Buf {
    bytes: [u8; 160],
    len: usize,
}

impl Write for Buf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let mut buf = Buf { bytes: [0; 160], len: 0 };
    let _ = write!(buf, "mpcoap: {}", info);
    let len = buf.len.min(buf.bytes.len());
    // SAFETY: the pointer and length describe initialised bytes of `buf`,
    // which lives until the call; the shim's function never raises.
    unsafe { micropython_sys::mpcoap_port_panic(buf.bytes.as_ptr(), len) };
    // The shim does not return; if it did, stay here rather than go on.
    loop {
        core::hint::spin_loop();
    }
}

/// The host's prebuilt `core` (built with `panic=unwind`) refers to this
/// symbol; with `panic = "abort"` it is never called.
#[cfg(not(target_os = "none"))]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

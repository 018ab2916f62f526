//! The panic handler of the MicroPython archive: the engine is written not to
//! panic, so reaching this is a bug; it reports through the shim and aborts.

use core::panic::PanicInfo;

/// Appends bytes to a fixed buffer, cutting what does not fit.
struct Buf {
    bytes: [u8; 160],
    len: usize,
}

impl Buf {
    fn push(&mut self, s: &[u8]) {
        for &b in s {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn push_decimal(&mut self, mut n: u32) {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        self.push(digits.get(i..).unwrap_or_default());
    }
}

/// Reports where the panic happened, without the message: formatting the
/// message would link `core::fmt` (about 5 KiB of flash on RISC-V, measured
/// in the qemu firmware's map), and the location is what finds the bug.
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let mut buf = Buf { bytes: [0; 160], len: 0 };
    buf.push(b"mpcoap: panic");
    if let Some(location) = info.location() {
        buf.push(b" at ");
        buf.push(location.file().as_bytes());
        buf.push(b":");
        buf.push_decimal(location.line());
    }
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

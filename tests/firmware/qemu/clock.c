// Millisecond/microsecond ticks for MicroPython's qemu port, which has none
// (its mphalport has no clock). Linked into the qemu test firmware only, and
// only if something (the coap shim) refers to it.
//
// QEMU's RISC-V "virt" machine has a CLINT whose 64-bit mtime counter runs at
// 10 MHz and is readable from machine mode, where the firmware runs.
#include <stdint.h>

#define VIRT_CLINT_MTIME 0x0200BFF8u
#define VIRT_MTIME_HZ 10000000u

static uint64_t mtime(void) {
    volatile uint32_t *p = (volatile uint32_t *)VIRT_CLINT_MTIME;
    uint32_t hi, lo;
    // Re-read when the high word changed while reading the low word.
    do {
        hi = p[1];
        lo = p[0];
    } while (hi != p[1]);
    return ((uint64_t)hi << 32) | lo;
}

uint32_t mp_hal_ticks_ms(void) {
    return (uint32_t)(mtime() / (VIRT_MTIME_HZ / 1000u));
}

uint32_t mp_hal_ticks_us(void) {
    return (uint32_t)(mtime() / (VIRT_MTIME_HZ / 1000000u));
}

uint64_t mp_hal_time_ns(void) {
    return mtime() * (1000000000u / VIRT_MTIME_HZ);
}

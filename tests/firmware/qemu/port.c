// What MicroPython's qemu port lacks and the coap module (or libc on its
// behalf) needs, for the qemu test firmware only. Linked from an archive, so
// each piece is only pulled in if something refers to it.
//
// QEMU's RISC-V "virt" machine: a CLINT whose 64-bit mtime counter runs at
// 10 MHz, readable from machine mode (where the firmware runs), and a SiFive
// test device whose register ends the emulation with an exit status.
#include <stdint.h>

#define VIRT_CLINT_MTIME 0x0200BFF8u
#define VIRT_MTIME_HZ 10000000u
#define VIRT_TEST_FINISHER 0x00100000u
#define FINISHER_FAIL 0x3333u

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

// abort() (the module's panic path) ends in raise() -> kill() and _exit():
// stop qemu with a failing status, so a panic fails the test run loudly.
void _exit(int status) {
    volatile uint32_t *finisher = (volatile uint32_t *)VIRT_TEST_FINISHER;
    *finisher = ((uint32_t)(status & 0xffff) << 16) | FINISHER_FAIL;
    for (;;) {
    }
}

int getpid(void) {
    return 1;
}

int kill(int pid, int sig) {
    (void)pid;
    _exit(128 + sig);
}

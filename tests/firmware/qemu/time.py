# A `time` module for the qemu test firmware only: MicroPython's qemu port is
# built without one (MICROPY_PY_TIME 0), and the test helpers import it.
# Ticks come from the virt machine's CLINT mtime counter (10 MHz, QEMU's
# virtual clock), read through machine.mem32; the ticks_* arithmetic follows
# MicroPython's (values wrap at 2**30). Frozen by manifest.py.
import machine

_MTIME = 0x0200BFF8
_HZ = 10_000_000
_PERIOD = 1 << 30
_MASK = _PERIOD - 1
_HALF = _PERIOD // 2


def _mtime():
    while True:
        hi = machine.mem32[_MTIME + 4]
        lo = machine.mem32[_MTIME]
        if machine.mem32[_MTIME + 4] == hi:
            return (hi << 32) | lo


def ticks_ms():
    return (_mtime() // (_HZ // 1000)) & _MASK


def ticks_us():
    return (_mtime() // (_HZ // 1000000)) & _MASK


def ticks_cpu():
    return _mtime() & _MASK


def ticks_add(ticks, delta):
    return (ticks + delta) & _MASK


def ticks_diff(end, start):
    return ((end - start + _HALF) & _MASK) - _HALF


def sleep_us(us):
    end = _mtime() + us * (_HZ // 1000000)
    while _mtime() < end:
        pass


def sleep_ms(ms):
    sleep_us(ms * 1000)


def sleep(seconds):
    sleep_us(int(seconds * 1000000))


def time_ns():
    return _mtime() * (1000000000 // _HZ)


def time():
    return _mtime() // _HZ

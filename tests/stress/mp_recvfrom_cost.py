# Heap bytes that one socket.recvfrom() call allocates on this port, for a
# datagram of LEN bytes: the floor that MicroPython's socket API forces on
# anything that receives through it (the received bytes and the address).
# usage: micropython mp_recvfrom_cost.py PORT LEN   -> prints "RECVFROM <bytes>"
import gc
import socket
import sys

port, length = int(sys.argv[1]), int(sys.argv[2])
addr = socket.getaddrinfo("127.0.0.1", port)[0][-1]
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(addr)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def cost():
    tx.sendto(bytes(length), addr)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    rx.recvfrom(1153)
    after = gc.mem_alloc()
    gc.enable()
    return after - before


cost()  # first call may set things up
print("RECVFROM", min(cost() for _ in range(5)))
rx.close()
tx.close()

# GC heap that coap.init() keeps (nothing added yet) on the running
# firmware. Prints one line per measurement for tests/firmware/run_qemu.py.
import gc
import coap

gc.collect()
before = gc.mem_alloc()
coap.init()
gc.collect()
after_init = gc.mem_alloc()
coap.deinit()
gc.collect()
after_deinit = gc.mem_alloc()
print("MPCOAP_HEAP init", after_init - before)
print("MPCOAP_HEAP after_deinit", after_deinit - before)

// Links the module's Rust archive into a bare-metal RV32 program, so the
// archive built through micropython.cmake is proven linkable for the chip.
#include "mpcoap.h"

volatile size_t mpcoap_check_sink;

void mpcoap_port_panic(const uint8_t *msg, size_t len) {
    (void)msg;
    (void)len;
    for (;;) {
    }
}

int main(void) {
    mpcoap_check_sink = mpcoap_engine_size();
    return 0;
}

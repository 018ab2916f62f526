// QEMU TCG plugin: counts how often each translation block runs and writes
// "vaddr n_insns count" lines at exit (argument out=PATH, default
// tbcount.out). tools/rv32-profile/profile.py turns two runs into
// instructions per symbol. Build (QEMU's include/qemu/qemu-plugin.h of a
// release with plugin API version 1, e.g. 7.2 to 8.2, in $QEMU_INCLUDE):
//   gcc -shared -fPIC -O2 -I"$QEMU_INCLUDE" $(pkg-config --cflags glib-2.0) \
//       -o tbcount.so tbcount.c
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "qemu-plugin.h"
QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;
typedef struct { uint64_t vaddr; uint64_t n; uint64_t count; } TB;
static GHashTable *tbs;
static const char *outpath = "tbcount.out";
static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    uint64_t va = qemu_plugin_tb_vaddr(tb);
    uint64_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t key = (va << 8) | n;
    TB *t = g_hash_table_lookup(tbs, &key);
    if (!t) { t = g_new0(TB, 1); t->vaddr = va; t->n = n; uint64_t *k = g_new(uint64_t,1); *k = key; g_hash_table_insert(tbs, k, t); }
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &t->count, 1);
}
static void dump(gpointer k, gpointer v, gpointer f) { TB *t = v; if (t->count) fprintf(f, "%llx %llu %llu\n", (unsigned long long)t->vaddr, (unsigned long long)t->n, (unsigned long long)t->count); }
static void atexit_cb(qemu_plugin_id_t id, void *p) { FILE *f = fopen(outpath, "w"); g_hash_table_foreach(tbs, dump, f); fclose(f); }
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    for (int i = 0; i < argc; i++) if (!strncmp(argv[i], "out=", 4)) outpath = strdup(argv[i] + 4);
    tbs = g_hash_table_new(g_int64_hash, g_int64_equal);
    qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
    qemu_plugin_register_atexit_cb(id, atexit_cb, NULL);
    return 0;
}

#!/usr/bin/env bash
# check-symbols.sh NAME RAW.a FIRMWARE.a MARCH WORKDIR
# Symbol hygiene of the archive that goes into firmware (FIRMWARE.a, made from
# cargo's RAW.a by tools/localize-archive.sh):
#   1. nm: no defined mem*/str*/bcmp, of any binding (T, W or local);
#   2. nm: every defined global symbol is prefixed mpcoap_;
#   3. a test link against picolibc (rv32, --gc-sections, -Map, --cref): the
#      map shows memcpy and memset defined by picolibc's libc.a, and every
#      libc function the archive calls is resolved from libc.
# Prints what cargo's raw archive had, for comparison. Exits 1 on failure.
set -uo pipefail
name=$1 raw=$2 fw=$3 march=$4 work=$5
nm=riscv64-unknown-elf-nm
fails=0
pass() { echo "PASS symbols-$name: $*"; }
fail() { echo "FAIL symbols-$name: $*"; fails=$((fails + 1)); }
mkdir -p "$work"

# Symbols from readelf, not nm: binutils' nm hands objects that embed LLVM
# bitcode (cargo's raw archive) to its LLVM plugin and may list nothing, which
# would make a check pass by seeing nothing.
defined() { # archive -> "BIND NAME" for every defined function/object/notype
  readelf -sW "$1" 2>/dev/null | awk '$7 != "UND" && $7 != "Ndx" && NF == 8 &&
    ($4 == "FUNC" || $4 == "OBJECT" || $4 == "NOTYPE") {print $5, $8}'
}
violations() { # archive -> lines describing hygiene violations
  defined "$1" | awk '$2 ~ /^(mem[a-z0-9_]*|str[a-z0-9_]*|bcmp)$/ {print "libc name defined: " $1 " " $2}'
  defined "$1" | awk '($1 == "GLOBAL" || $1 == "WEAK") && $2 !~ /^mpcoap_/ {print "unprefixed: " $1 " " $2}'
}

# The check must be able to fail: cargo's own archive violates both rules.
raw_v=$(violations "$raw")
if [ -n "$raw_v" ]; then
  pass "the check rejects cargo's raw archive ($(grep -c unprefixed <<<"$raw_v") unprefixed globals;" \
    "$(grep 'libc name' <<<"$raw_v" | awk '{print $4 "(" $5 ")"}' | paste -sd' ' -))"
else
  fail "cargo's raw archive shows no violation: the check cannot see symbols"
fi

v=$(violations "$fw")
libc_defs=$(grep 'libc name' <<<"$v" || true)
[ -z "$libc_defs" ] && pass "no defined mem*/str*/bcmp (T, W or local) in $(basename "$fw")" \
  || fail "$libc_defs"
n=$(defined "$fw" | awk '$1 == "GLOBAL" || $1 == "WEAK"' | grep -c .)
unprefixed=$(grep unprefixed <<<"$v" || true)
[ -z "$unprefixed" ] && [ "$n" -gt 0 ] && pass "all $n defined globals are prefixed mpcoap_" \
  || fail "unprefixed globals (or none at all): ${unprefixed:-<no globals>}"
nm_globals=$($nm -g --defined-only "$fw" | awk 'NF == 3' | grep -c .)
[ "$nm_globals" = "$n" ] && pass "nm agrees: $nm_globals defined globals" \
  || fail "nm lists $nm_globals defined globals, readelf $n"
undef=$($nm -u "$fw" | awk '$1 == "U" {print $2}' | sort -u)
echo "symbols-$name: the archive needs from outside: $(paste -sd' ' <<<"$undef")"

# Test link: the archive plus a main that uses memcpy/memset too.
cat > "$work/main.c" <<'C'
#include <string.h>
#include "mpcoap.h"
void mpcoap_port_panic(const uint8_t *msg, size_t len) { (void)msg; (void)len; for (;;) { } }
volatile size_t sink;
static unsigned char a[64], b[64];
int main(void) {
    memset(a, 1, sizeof a);
    memcpy(b, a, sizeof b);
    sink = mpcoap_engine_size() + b[3];
    return 0;
}
C
map=$work/link.map
if riscv64-unknown-elf-gcc -march="$march" -mabi=ilp32 --specs=picolibc.specs -Os \
     -ffunction-sections -fdata-sections -I"$(dirname "$0")/../../mod" -o "$work/link.elf" "$work/main.c" "$fw" \
     -Wl,--gc-sections -Wl,--cref -Wl,-Map="$map" > "$work/link.log" 2>&1; then
  pass "test link against picolibc ($march)"
else
  fail "test link against picolibc ($march)"; cat "$work/link.log"
fi
# The cross reference table lists the defining file first.
definer() {
  awk -v s="$1" '/^Cross Reference Table/ {x = 1; next} x && $1 == s {print $2; exit}' "$map"
}
for sym in memcpy memset; do
  d=$(definer "$sym")
  [[ $d == *libc.a\(* ]] && pass "$sym taken from libc: $d" || fail "$sym defined by '${d:-nothing}', not libc"
done
for sym in $undef; do
  case $sym in mem*|str*|bcmp) ;; *) continue ;; esac
  d=$(definer "$sym")
  if [[ $d == *libc.a\(* ]]; then
    pass "the archive's $sym resolves to libc"
  elif grep -q "^$sym " <(awk '/^Cross Reference Table/ {x = 1} x' "$map"); then
    fail "the archive's $sym resolves to '$d'"
  fi
done
[ $fails = 0 ] || { echo "symbols-$name: $fails FAILED (map: $map)"; exit 1; }

#!/usr/bin/env bash
# check-cmake.sh MICROPY_DIR REPO WORKDIR
# micropython.cmake driven through MicroPython's own py/usermod.cmake, with
# Debian's RISC-V GCC standing in for ESP-IDF's:
#   - esp32c3 and esp32c6: cargo builds the archive for the chip's Rust target
#     (checked in the archive's RISC-V arch attribute), the shim is gathered
#     for QSTR scanning, a program links against the archive, and a second
#     build runs cargo again (always invoked) without rebuilding anything;
#   - both copies of the shim's sources, the component's and the executable's
#     (micropython#18880), are compiled with ESP-IDF's build options, and
#     each once where usermod carries them already (MicroPython >= 1.28.0);
#   - esp32s3: configure only (no Xtensa toolchain here); the generated
#     command uses the esp toolchain, -Zbuild-std=core and -mlongcalls;
#   - an unsupported chip fails at configure with a clear message.
# Prints PASS/FAIL per check; exits 1 if any failed.
set -uo pipefail
mp=$1 repo=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
fails=0
pass() { echo "PASS cmake: $*"; }
fail() { echo "FAIL cmake: $*"; fails=$((fails + 1)); }

configure() { # dir idf_target arch_flags [more cmake args]
  local dir=$1 target=$2 flags=$3
  shift 3
  rm -rf "$dir"
  cmake -S "$repo/tests/firmware/cmake" -B "$dir" -DIDF_TARGET="$target" -DMICROPY_DIR="$mp" \
    -DMPCOAP_REPO="$repo" -DCMAKE_C_COMPILER=riscv64-unknown-elf-gcc \
    -DMPCOAP_ARCH_FLAGS="$flags" "$@" > "$dir.configure.log" 2>&1
}

for spec in "esp32c3 riscv32imc-unknown-none-elf rv32imc" "esp32c6 riscv32imac-unknown-none-elf rv32imac"; do
  read -r chip rtarget march <<<"$spec"
  d=$work/$chip
  echo "cmake: IDF_TARGET=$chip (expects $rtarget), build dir $d"
  if ! configure "$d" "$chip" "-march=$march -mabi=ilp32"; then
    fail "$chip configure"; cat "$d.configure.log"; continue
  fi
  grep -q "Rust target $rtarget" "$d.configure.log" && pass "$chip maps to $rtarget" \
    || { fail "$chip maps to $rtarget"; cat "$d.configure.log"; }
  # Both copies of the shim (component and executable) get ESP-IDF's options.
  python3 "$here/shim_flags.py" "$d" "$repo" || fails=$((fails + 1))
  if grep -qx "$repo/mod/.*\.c" "$d/usermod-sources.txt" && grep -qx "$repo/mod" "$d/usermod-includes.txt"; then
    pass "$chip usermod.cmake gathers the shim ($(wc -l < "$d/usermod-sources.txt") sources) and mod/ includes"
  else
    fail "$chip usermod.cmake gathers the shim"; cat "$d/usermod-sources.txt" "$d/usermod-includes.txt"
  fi
  start=$(date +%s)
  if cmake --build "$d" > "$d.build.log" 2>&1; then
    pass "$chip build: cargo + localisation + link ($(( $(date +%s) - start )) s)"
  else
    fail "$chip build"; tail -40 "$d.build.log"; continue
  fi
  grep -q -- "--target $rtarget" "$d.build.log" || grep -q "cargo ($rtarget)" "$d.build.log" \
    && pass "$chip cargo ran for $rtarget" || fail "$chip cargo ran for $rtarget"
  a=$d/mpcoap/libmpcoap_fw.a
  arch=$(readelf -A "$a" | sed -n 's/.*Tag_RISCV_arch: "\(.*\)"/\1/p' | head -n1)
  has_a=no; [[ $arch == *_a2* ]] && has_a=yes
  want_a=no; [[ $march == *a* && $march != rv32imc ]] && want_a=yes
  [ -n "$arch" ] && [ "$has_a" = "$want_a" ] && pass "$chip archive ISA $arch (atomics: $has_a)" \
    || fail "$chip archive ISA '$arch' (atomics: $has_a, expected $want_a)"
  grep -q "libmpcoap_fw.a(mpcoap.o)" "$d/linkcheck.map" && pass "$chip program linked the localised archive" \
    || fail "$chip program linked the localised archive"
  before=$(stat -c %Y.%N "$a" 2>/dev/null; stat -c %y "$a")
  cmake --build "$d" > "$d.rebuild.log" 2>&1
  after=$(stat -c %Y.%N "$a" 2>/dev/null; stat -c %y "$a")
  if grep -q "cargo ($rtarget)" "$d.rebuild.log" && [ "$before" = "$after" ] \
     && ! grep -q "Linking C executable" "$d.rebuild.log"; then
    pass "$chip rebuild: cargo invoked again, nothing rebuilt or relinked"
  else
    fail "$chip rebuild: cargo invoked again, nothing rebuilt or relinked"; cat "$d.rebuild.log"
  fi
done

# MicroPython >= 1.28.0 gives usermod the COMPILE_OPTIONS itself
# (micropython#18884): micropython.cmake then adds them no second time.
d=$work/esp32c3-usermod-options
echo "cmake: IDF_TARGET=esp32c3 with usermod carrying ESP-IDF's options (MicroPython >= 1.28.0), configure only"
if configure "$d" esp32c3 "-march=rv32imc -mabi=ilp32" -DMPCOAP_CHECK_USERMOD_OPTIONS=ON; then
  python3 "$here/shim_flags.py" "$d" "$repo" --once || fails=$((fails + 1))
else
  fail "esp32c3 (usermod options) configure"; cat "$d.configure.log"
fi

# Xtensa: configure only; check the command CMake generated.
d=$work/esp32s3
echo "cmake: IDF_TARGET=esp32s3 (configure only: no Xtensa toolchain here)"
if configure "$d" esp32s3 "-march=rv32imac -mabi=ilp32"; then
  cmd=$(grep -rh --include='*.make' --include='*.ninja' -- "--target xtensa-esp32s3-none-elf" "$d" || true)
  ok=1
  for want in RUSTUP_TOOLCHAIN=esp -Zbuild-std=core CFLAGS_xtensa_esp32s3_none_elf=-mlongcalls --locked; do
    grep -q -- "$want" <<<"$cmd" || { ok=0; echo "  missing in the cargo command: $want"; }
  done
  [ $ok = 1 ] && pass "esp32s3 cargo command: xtensa-esp32s3-none-elf, esp toolchain, -Zbuild-std=core, -mlongcalls for cc-rs" \
    || { fail "esp32s3 cargo command"; echo "$cmd"; }
else
  fail "esp32s3 configure"; cat "$d.configure.log"
fi

# Unsupported chip: IDF's own "linux" target.
d=$work/linux
if configure "$d" linux "-march=rv32imac -mabi=ilp32"; then
  fail "IDF_TARGET=linux must fail at configure"
elif grep -q "IDF_TARGET 'linux' is not supported" "$d.configure.log"; then
  pass "IDF_TARGET=linux fails clearly: $(grep -o "IDF_TARGET 'linux' is not supported[^.]*" "$d.configure.log" | head -n1)"
else
  fail "IDF_TARGET=linux fails, but without the message"; cat "$d.configure.log"
fi

[ $fails = 0 ] || { echo "cmake checks: $fails FAILED"; exit 1; }
echo "cmake checks: all passed"

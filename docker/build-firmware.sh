#!/usr/bin/env bash
# build-firmware.sh BOARD  (inside the build container; `make firmware` runs it)
# Builds MicroPython v1.26.1 for BOARD with the coap module into
# /src/build/esp32/BOARD (the repo's build/, so the files belong to the
# caller). Nothing is downloaded: the image holds every dependency.
set -euo pipefail
board=${1:?usage: build-firmware.sh BOARD}
src=/src
out=$src/build/esp32/$board

# ESP-IDF (the image's entrypoint did this already for `docker run IMAGE cmd`,
# not for a shell started otherwise), then espup's variables (LIBCLANG_PATH).
# shellcheck disable=SC1091
. "$IDF_PATH/export.sh" > /dev/null
# shellcheck disable=SC1091
. /opt/export-esp.sh

# IDF's GCC must be the one that compiles; espup was installed without one.
case $board in
  *_C2|*_C3|*_C6|*_C5|*_H2|*_P4) cc=riscv32-esp-elf-gcc ;;
  *) cc=xtensa-esp32-elf-gcc ;;
esac
command -v "$cc" > /dev/null || { echo "build-firmware: $cc not on PATH" >&2; exit 1; }

# Frozen unittest: the repo's build/lib/unittest.py (make unittest-lib), else
# the image's copy of the same pinned file.
mkdir -p "$src/build/lib"
[ -f "$src/build/lib/unittest.py" ] || cp /opt/mpcoap/unittest.py "$src/build/lib/unittest.py"

manifest=$src/boards/manifest.py
[ -f "$src/boards/$board/manifest.py" ] && manifest=$src/boards/$board/manifest.py

echo "build-firmware: $board, MicroPython $(git -C "$MICROPY_DIR" describe --tags), $(rustc --version), $($cc --version | head -n1)"
make -C "$MICROPY_DIR/ports/esp32" BOARD="$board" BUILD="$out" \
  USER_C_MODULES="$src/micropython.cmake" FROZEN_MANIFEST="$manifest"
ls -l "$out/firmware.bin" "$out/micropython.bin" "$out/bootloader/bootloader.bin" \
  "$out/partition_table/partition-table.bin"

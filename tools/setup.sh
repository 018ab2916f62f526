#!/usr/bin/env bash
# tools/setup.sh [--check]
# What `make test` needs on a Debian 12 machine, in one place.
#   tools/setup.sh           installs what is missing (make setup; .ci/run):
#                            apt packages (as root, or through sudo), the
#                            Python tools of .ci/requirements.txt, the Rust
#                            targets and components, nightly and cargo-fuzz.
#   tools/setup.sh --check   installs nothing and downloads nothing: exits 1
#                            with one line naming what is missing and the
#                            command that installs it (make test runs this
#                            first, so a fresh machine stops at once).
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = --check ] && check=1

apt_packages=(
  build-essential pkg-config   # C compiler for MicroPython and cc-built C
  libclang-dev clang           # bindgen (micropython-sys)
  cmake                        # micropython.cmake driven through py/usermod.cmake
  libcoap3-bin                 # libcoap's coap-client / coap-server: interop peers
  qemu-system-misc             # qemu-system-riscv32 for the VIRT_RV32 firmware
  gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf picolibc-riscv64-unknown-elf
  iproute2                     # network namespace for the multicast test
  dpkg-dev                     # apt-get source (MicroPython from Debian)
  curl ca-certificates xz-utils git  # make micropython-src / unittest-lib downloads
  libffi-dev
  valgrind
  python3-pip python3-venv     # the Python tools below; make host-tools
)
# The Rust toolchain, its targets and components: rust-toolchain.toml's, read
# here so that they are named in one place.
toml_list() { python3 -c 'import sys, tomllib; print(" ".join(tomllib.load(open("rust-toolchain.toml", "rb"))["toolchain"].get(sys.argv[1], [])))' "$1"; }
read -r -a rust_targets <<< "$(toml_list targets)"
read -r -a rust_components <<< "$(toml_list components)"
CARGO_FUZZ_VERSION=0.13.2

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
python_ok() { python3 - <<'EOF' 2>/dev/null
import importlib.metadata as md, sys
want = [l.split("#")[0].strip() for l in open(".ci/requirements.txt")]
for spec in filter(None, want):
    name, _, version = spec.partition("==")
    if md.version(name) != version:
        sys.exit(1)
EOF
}
rust_missing() {
  command -v rustup > /dev/null || { echo "rustup"; return; }
  local t c
  for t in "${rust_targets[@]}"; do
    [ -d "$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$t" ] || echo "rust target $t"
  done
  for c in "${rust_components[@]}"; do
    cargo "${c/rustfmt/fmt}" --version > /dev/null 2>&1 || echo "rust component $c"
  done
  rustup toolchain list | grep -q '^nightly' || echo "rust nightly toolchain"
  cargo +nightly fuzz --version > /dev/null 2>&1 || echo "cargo-fuzz"
}

if [ $check = 1 ]; then
  what=()
  ((${#missing[@]})) && what+=("apt packages: ${missing[*]}")
  python_ok || what+=("Python tools of .ci/requirements.txt")
  while IFS= read -r r; do [ -n "$r" ] && what+=("$r"); done < <(rust_missing)
  if ((${#what[@]})); then
    echo "make test: this machine lacks $(IFS=';'; echo "${what[*]}" | sed 's/;/; /g'). Run 'make setup' first (Debian 12; apt needs root or sudo)." >&2
    exit 1
  fi
  exit 0
fi

if ((${#missing[@]})); then
  sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

python_ok || python3 -m pip install -q --disable-pip-version-check -r .ci/requirements.txt

command -v rustup > /dev/null || { echo "setup: install Rust with rustup first (https://rustup.rs)" >&2; exit 1; }
# The pinned toolchain with the targets and components rust-toolchain.toml
# lists (rustup reads the file); the two adds cover a toolchain that was
# already installed without them.
rustup toolchain install > /dev/null
rustup target add "${rust_targets[@]}" > /dev/null
rustup component add "${rust_components[@]}" > /dev/null
# cargo-fuzz runs the fuzz targets (short, bounded runs in `make test`); it
# needs the nightly toolchain.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal > /dev/null
cargo +nightly fuzz --version > /dev/null 2>&1 || cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" -q
echo "setup: everything make test needs is installed"

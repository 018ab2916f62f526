#!/usr/bin/env bash
# localize-archive.sh IN.a OUT.a
#
# Turns cargo's staticlib into the archive that firmware links: one object in
# which only the module's exports (mpcoap_*) are global and which defines no
# libc function. Why: stable Rust's no_std staticlib carries compiler_builtins'
# weak memcpy/memset/memmove/memcmp/bcmp/strlen and hundreds of unprefixed
# globals; linked ahead of libc, the Rust copies of memcpy/memset win (see
# docs/internals.md and the architecture page). Steps:
#   1. unpack the members; drop debug info and embedded LLVM bitcode (the
#      bitcode makes binutils' LLVM plugin misread the objects, and Debian's
#      binutils 2.40 cannot read the debug relocations of newer LLVM);
#   2. drop the members that define only libc names, so every call to them
#      stays undefined and resolves to the firmware's libc (ESP-IDF: ROM/IRAM);
#   3. partial link (`cc -r`) of the rest into one object;
#   4. objcopy --keep-global-symbols: everything but mpcoap_* becomes local;
#   5. check the result, then pack it as OUT.a.
# Fails loudly if any of this does not hold.
#
# Environment (all optional):
#   MPCOAP_CC          C compiler driver of the target, used for `-r`
#                      (default: cc); MPCOAP_CC_FLAGS its arch flags, e.g.
#                      "-march=rv32imac -mabi=ilp32".
#   MPCOAP_NM, MPCOAP_AR  target binutils (default: the ones MPCOAP_CC uses).
#   MPCOAP_OBJCOPY     an objcopy that reads the target's objects (default:
#                      llvm-objcopy shipped with rustc, i.e. `rust-objcopy`
#                      of `$RUSTC --print sysroot`, else the target's objcopy).
#   MPCOAP_KEEP_PREFIX prefix of the symbols kept global (default: mpcoap_).
#   MPCOAP_LOCALIZE_IF_NEWER=1  do nothing when OUT is newer than IN (for
#                      build systems that run this on every build).
set -euo pipefail

die() { echo "localize-archive: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $0 IN.a OUT.a"
in=$(realpath "$1"); out=$2
[ -f "$in" ] || die "no such archive: $1"
if [ "${MPCOAP_LOCALIZE_IF_NEWER:-}" = 1 ] && [ "$out" -nt "$in" ]; then
  exit 0
fi

cc=${MPCOAP_CC:-cc}
read -r -a ccflags <<<"${MPCOAP_CC_FLAGS:-}"
keep_prefix=${MPCOAP_KEEP_PREFIX:-mpcoap_}

# The target's binutils live where its gcc finds its own ld.
tool() {
  local p
  p=$("$cc" "${ccflags[@]}" -print-prog-name="$1" 2>/dev/null || true)
  if [ -n "$p" ] && [ "$p" != "$1" ] && [ -x "$p" ]; then echo "$p"; return; fi
  case "$cc" in *gcc) echo "${cc%gcc}$1" ;; *) echo "$1" ;; esac
}
nm=${MPCOAP_NM:-$(tool nm)}
ar=${MPCOAP_AR:-$(tool ar)}
objcopy=${MPCOAP_OBJCOPY:-}
if [ -z "$objcopy" ]; then
  sysroot=$("${RUSTC:-rustc}" --print sysroot 2>/dev/null || true)
  cand=$(ls "$sysroot"/lib/rustlib/*/bin/rust-objcopy 2>/dev/null | head -n1 || true)
  objcopy=${cand:-$(tool objcopy)}
  # rust-objcopy finds rustc's libLLVM only through the sysroot's lib/.
  [ -z "$cand" ] || export LD_LIBRARY_PATH="$sysroot/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mpcoap-localize.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/m"

# 1. Members. Rust gives them unique names; a duplicate would be lost by `ar x`.
dups=$("$ar" t "$in" | sort | uniq -d)
[ -z "$dups" ] || die "duplicate member names in $in: $dups"
(cd "$work/m" && "$ar" x "$in")
for o in "$work"/m/*; do
  "$objcopy" --strip-debug -R .llvmbc -R .llvmcmd "$o" \
    || die "$objcopy cannot rewrite $(basename "$o")"
done

# 2. Members whose only global definitions are libc names.
libc_re='^(mem[a-z0-9_]*|str[a-z0-9_]*|bcmp|bzero|abort)$'
dropped=()
for o in "$work"/m/*; do
  defs=$("$nm" -g --defined-only "$o" | awk 'NF == 3 {print $3}')
  [ -n "$defs" ] || continue
  libc=$(grep -E "$libc_re" <<<"$defs" || true)
  [ -n "$libc" ] || continue
  other=$(grep -vE "$libc_re" <<<"$defs" || true)
  [ -z "$other" ] || die "$(basename "$o") defines libc names ($libc) together with other globals ($other); cannot drop it"
  dropped+=("$(paste -sd, <<<"$libc")")
  rm -f "$o"
done

# 3. One relocatable object.
printf '%s\n' "$work"/m/* > "$work/members.txt"
"$cc" "${ccflags[@]}" -nostdlib -r -o "$work/mpcoap.o" @"$work/members.txt" \
  || die "partial link failed ($cc ${ccflags[*]} -r)"

# 4. Keep only the module's exports global.
"$nm" -g --defined-only "$work/mpcoap.o" | awk -v p="$keep_prefix" \
  'NF == 3 && index($3, p) == 1 {print $3}' > "$work/keep.txt"
[ -s "$work/keep.txt" ] || die "no ${keep_prefix}* symbol is defined in $in"
"$objcopy" --keep-global-symbols="$work/keep.txt" "$work/mpcoap.o"

# 5. Checks: every defined global is prefixed; nothing libc-named is
# defined (even locally); the only undefined names are C ones (libc, libgcc,
# the shim's mpcoap_port_*), never a Rust-mangled one left by a dropped member.
bad=$("$nm" -g --defined-only "$work/mpcoap.o" | awk -v p="$keep_prefix" \
  'NF == 3 && index($3, p) != 1 {print $3}')
[ -z "$bad" ] || die "unprefixed globals remain: $bad"
libc_defs=$("$nm" --defined-only "$work/mpcoap.o" | awk 'NF == 3 {print $3}' | grep -E "$libc_re" || true)
[ -z "$libc_defs" ] || die "libc names still defined: $libc_defs"
rust_undef=$("$nm" -u "$work/mpcoap.o" | awk '{print $NF}' | grep -E '^(_ZN|_R)' || true)
[ -z "$rust_undef" ] || die "dropping libc members left Rust symbols undefined: $rust_undef"

rm -f "$out.tmp"
"$ar" rcs "$out.tmp" "$work/mpcoap.o"
mv -f "$out.tmp" "$out"
echo "localize-archive: $(basename "$out"): $(wc -l < "$work/keep.txt") global ${keep_prefix}* symbols;" \
  "libc members dropped: ${dropped[*]:-none}"

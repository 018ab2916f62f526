#!/usr/bin/env python3
"""Size of the coap module inside a linked firmware, from the linker map.

For each NAME=MAP[,HEAP_JSON] it sums the input sections that the linker kept
(after --gc-sections) from the module's objects: the shim (mod/*.o) and the
Rust archive (libmpcoap.a). Flash = .text + .rodata; static RAM = .data +
.bss. HEAP_JSON (from run_qemu.py) adds the GC heap that coap.init() keeps.
Prints a Markdown table and PASS/FAIL per budget; exits 1 over budget.
"""
import argparse
import json
import re
import sys

MODULE_OBJ = re.compile(r"(/mod/[^/]+\.o|libmpcoap[^/]*\.a\([^)]*\))$")
LINE = re.compile(r"^ (\S+)?\s+0x[0-9a-fA-F]+\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
NAME_ONLY = re.compile(r"^ (\S+)\s*$")

# Flash: 32 KiB for the first release, plus the 1 KiB this round's fixes may
# take, the 1 KiB of asyncio support (issue 14), the 5 KiB of Block-wise
# transfer (issue 12) and the 4 KiB of Observe (issue 13), within the
# contract's
# "Flash budget" (48 KiB with every feature of the round); BENCHMARKS.md,
# "Size", says what used it. Heap: what init() keeps,
# the datagram buffer included (contract, "Lifecycle, state and memory":
# at most 3 KiB on a 32-bit target since storage grows with use, issue 10).
BUDGET = {"flash": (33 + 1 + 5 + 4) * 1024, "ram": 1024, "heap": 3 * 1024}


def kind(section):
    for prefix, k in ((".text", "text"), (".rodata", "rodata"), (".srodata", "rodata"),
                      (".data", "data"), (".sdata", "data"), (".bss", "bss"),
                      (".sbss", "bss"), ("COMMON", "bss")):
        if section == prefix or section.startswith(prefix + ".") or section.startswith(prefix + "_"):
            return k
    return None


def measure(map_path):
    sizes = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    by_obj = {}
    in_map = False
    pending = None
    with open(map_path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not in_map:
                in_map = line.startswith("Linker script and memory map")
                continue
            m = LINE.match(line)
            if m:
                section = m.group(1) or pending
                pending = None
                size = int(m.group(2), 16)
                obj = m.group(3).strip()
                if section is None or size == 0 or not MODULE_OBJ.search(obj):
                    continue
                k = kind(section)
                if k is None:
                    continue
                sizes[k] += size
                key = "rust" if ".a(" in obj else "shim"
                by_obj.setdefault(key, {"text": 0, "rodata": 0, "data": 0, "bss": 0})[k] += size
                continue
            m = NAME_ONLY.match(line)
            pending = m.group(1) if m else None
    if not in_map:
        raise SystemExit("%s: not a GNU ld map file" % map_path)
    return sizes, by_obj


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("targets", nargs="+", help="NAME=MAP[,HEAP_JSON]")
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args()

    rows, failed, out = [], 0, {}
    for spec in args.targets:
        name, _, rest = spec.partition("=")
        map_path, _, heap_path = rest.partition(",")
        sizes, by_obj = measure(map_path)
        heap = None
        if heap_path:
            with open(heap_path) as f:
                heap = json.load(f)["init"]
        flash = sizes["text"] + sizes["rodata"]
        ram = sizes["data"] + sizes["bss"]
        out[name] = {"sections": sizes, "by_part": by_obj, "flash": flash, "ram": ram, "heap_init": heap}
        rows.append((name, sizes, flash, ram, heap, by_obj))
        for what, val in (("flash", flash), ("ram", ram), ("heap", heap)):
            if val is None:
                continue
            ok = val <= BUDGET[what]
            failed += not ok
            print("%s size-%s/%s (%d bytes, budget %d)" % ("PASS" if ok else "FAIL", name, what, val, BUDGET[what]))
        if flash == 0:
            failed += 1
            print("FAIL size-%s (no module section found in %s)" % (name, map_path))

    print()
    print("| target | .text | .rodata | flash (.text+.rodata) | .data | .bss | static RAM (.data+.bss) | GC heap at init() |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, s, flash, ram, heap, _ in rows:
        print("| %s | %d | %d | **%d** (%.1f KiB) | %d | %d | **%d** | %s |" % (
            name, s["text"], s["rodata"], flash, flash / 1024, s["data"], s["bss"], ram,
            "**%d** (%.1f KiB)" % (heap, heap / 1024) if heap is not None else "n/a"))
    print()
    print("| target | part | .text | .rodata | .data | .bss |")
    print("|---|---|---:|---:|---:|---:|")
    for name, _, _, _, _, by_obj in rows:
        for part in sorted(by_obj):
            p = by_obj[part]
            print("| %s | %s | %d | %d | %d | %d |" % (name, part, p["text"], p["rodata"], p["data"], p["bss"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

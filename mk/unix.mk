# mk/unix.mk: MicroPython's source, MicroPython's unittest, the unix builds and
# the test runner. Pins live in mk/config.mk.

MICROPY_SRC := $(WORK)/micropython-$(MICROPY_VERSION)
# Marks a complete, verified tree; also says where it came from.
MICROPY_SRC_STAMP := $(MICROPY_SRC)/.mpcoap-source
# auto: GitHub if it answers within seconds, else Debian. Or force github|debian.
MICROPY_SOURCE ?= auto
# Private apt state, so the system's sources and lists stay untouched.
MICROPY_APT_DIR := $(WORK)/apt
MICROPY_APT_OPTS = -o Dir::Etc::sourcelist=$(MICROPY_APT_DIR)/sources.list \
  -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$(MICROPY_APT_DIR)/lists \
  -o Dir::Cache=$(MICROPY_APT_DIR)/cache \
  $(if $(filter 0,$(shell id -u)),-o APT::Sandbox::User=root)

UNITTEST_LIB := $(WORK)/lib/unittest.py

.PHONY: micropython-src unittest-lib

micropython-src: $(MICROPY_SRC_STAMP) ## MicroPython's pinned source in build/ (GitHub, else Debian sid's source package; verified)

$(MICROPY_SRC_STAMP):
	@set -euo pipefail; \
	dest='$(MICROPY_SRC)'; tmp="$$dest.tmp"; rm -rf "$$tmp" "$$dest"; mkdir -p "$$tmp"; \
	origin=; \
	if [ '$(MICROPY_SOURCE)' != debian ]; then \
	  echo "micropython-src: trying $(MICROPY_GIT_URL) (v$(MICROPY_VERSION))"; \
	  if GIT_TERMINAL_PROMPT=0 timeout 10 git ls-remote --exit-code '$(MICROPY_GIT_URL)' \
	       'refs/tags/v$(MICROPY_VERSION)' >/dev/null 2>&1 \
	     && GIT_TERMINAL_PROMPT=0 timeout 600 git -c http.lowSpeedLimit=1000 -c http.lowSpeedTime=30 \
	       clone -q --depth 1 --branch 'v$(MICROPY_VERSION)' '$(MICROPY_GIT_URL)' "$$tmp/src"; then \
	    got=$$(git -C "$$tmp/src" rev-parse HEAD); \
	    if [ "$$got" != '$(MICROPY_GIT_COMMIT)' ]; then \
	      echo "micropython-src: tag v$(MICROPY_VERSION) is $$got, expected $(MICROPY_GIT_COMMIT)" >&2; exit 1; \
	    fi; \
	    rm -rf "$$tmp/src/.git"; origin="github $(MICROPY_GIT_COMMIT)"; \
	  elif [ '$(MICROPY_SOURCE)' = github ]; then \
	    echo "micropython-src: GitHub not reachable and MICROPY_SOURCE=github" >&2; exit 1; \
	  else \
	    echo "micropython-src: GitHub not reachable, using Debian's micropython $(MICROPY_DEBIAN_VERSION)"; \
	    rm -rf "$$tmp/src"; \
	  fi; \
	fi; \
	if [ -z "$$origin" ]; then \
	  apt='$(MICROPY_APT_DIR)'; rm -rf "$$apt"; \
	  mkdir -p "$$apt/lists/partial" "$$apt/cache/archives/partial" "$$apt/dl"; \
	  echo 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(DEBIAN_MIRROR) $(MICROPY_DEBIAN_SUITE) main' \
	    > "$$apt/sources.list"; \
	  apt-get -qq $(MICROPY_APT_OPTS) update; \
	  if ! (cd "$$apt/dl" && apt-get -qq $(MICROPY_APT_OPTS) source --download-only \
	        'micropython=$(MICROPY_DEBIAN_VERSION)') >/dev/null; then \
	    echo "micropython-src: Debian $(MICROPY_DEBIAN_SUITE) no longer has micropython $(MICROPY_DEBIAN_VERSION)." >&2; \
	    echo "  Bump the pin in mk/config.mk on purpose (and build the module against the new release)." >&2; \
	    exit 1; \
	  fi; \
	  orig="$$apt/dl/micropython_$$(echo '$(MICROPY_DEBIAN_VERSION)' | sed 's/-[^-]*$$//').orig.tar.xz"; \
	  if ! echo '$(MICROPY_DEBIAN_ORIG_SHA256)  '"$$orig" | sha256sum --quiet -c -; then \
	    echo "micropython-src: SHA-256 MISMATCH for $$orig" >&2; \
	    echo "  expected $(MICROPY_DEBIAN_ORIG_SHA256)" >&2; \
	    echo "  got      $$(sha256sum "$$orig" | cut -d' ' -f1)" >&2; \
	    exit 1; \
	  fi; \
	  mkdir -p "$$tmp/src"; tar -xJf "$$orig" -C "$$tmp/src" --strip-components=1; \
	  origin="debian $(MICROPY_DEBIAN_VERSION) orig sha256 $(MICROPY_DEBIAN_ORIG_SHA256)"; \
	fi; \
	v=$$(sed -n 's/^#define MICROPY_VERSION_\(MAJOR\|MINOR\|MICRO\) \([0-9]*\)$$/\2/p' "$$tmp/src/py/mpconfig.h" | paste -sd.); \
	if [ "$$v" != '$(MICROPY_VERSION)' ]; then \
	  echo "micropython-src: source says version '$$v', expected $(MICROPY_VERSION)" >&2; exit 1; \
	fi; \
	mv "$$tmp/src" "$$dest"; rm -rf "$$tmp"; \
	echo "$$origin" > '$@'; \
	echo "micropython-src: $$dest ($$origin)"

unittest-lib: $(UNITTEST_LIB) ## MicroPython's unittest.py in build/lib (PyPI pycopy-unittest, sdist hash verified)

$(UNITTEST_LIB):
	@set -euo pipefail; \
	tmp='$(WORK)/lib/.dl'; rm -rf "$$tmp"; mkdir -p "$$tmp"; \
	url=$$(curl -fsS --connect-timeout 10 --max-time 120 'https://pypi.org/pypi/$(UNITTEST_PYPI_NAME)/json' | \
	  python3 -c 'import json, sys; \
	    r = json.load(sys.stdin)["releases"]["$(UNITTEST_PYPI_VERSION)"]; \
	    print(next(u["url"] for u in r if u["packagetype"] == "sdist"))'); \
	curl -fsS --connect-timeout 10 --max-time 300 -o "$$tmp/sdist.tar.gz" "$$url"; \
	if ! echo '$(UNITTEST_PYPI_SHA256)  '"$$tmp/sdist.tar.gz" | sha256sum --quiet -c -; then \
	  echo "unittest-lib: SHA-256 MISMATCH for $$url" >&2; \
	  echo "  expected $(UNITTEST_PYPI_SHA256)" >&2; \
	  echo "  got      $$(sha256sum "$$tmp/sdist.tar.gz" | cut -d' ' -f1)" >&2; \
	  exit 1; \
	fi; \
	tar -xzf "$$tmp/sdist.tar.gz" -C "$$tmp" --strip-components=1 \
	  '$(UNITTEST_PYPI_NAME)-$(UNITTEST_PYPI_VERSION)/unittest.py'; \
	mv "$$tmp/unittest.py" '$@'; rm -rf "$$tmp"; \
	echo "unittest-lib: $@ ($(UNITTEST_PYPI_NAME) $(UNITTEST_PYPI_VERSION))"

# ---- the unix port with the module ------------------------------------------

# Debian's source lacks lib/ (berkeley-db, mbedtls, libffi, micropython-lib).
# Both builds share one cargo target dir (same host, features and archive), so
# the Rust side, bindgen included, compiles once.
# STRIP= keeps the symbols, so valgrind (tests/stress) and perf name functions.
# The frozen manifest (mod/manifest.py) is MicroPython's own asyncio package
# from this source tree and coap_asyncio; MicroPython's make insists on an
# MPY_LIB_DIR with a README.md, though nothing is taken from it.
UNIX_LIB := $(WORK)/unix-lib
UNIX_MAKE_FLAGS = MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0 STRIP= \
  FROZEN_MANIFEST=$(ROOT)/mod/manifest.py MPY_LIB_DIR=$(UNIX_LIB) \
  USER_C_MODULES=$(ROOT) MPCOAP_CARGO_DIR=$(WORK)/unix-cargo $(UNIX_EXTRA_FLAGS)
UNIX_EXTRA_FLAGS ?=
# Stable paths of the two binaries the tests use.
UNIX_BIN := $(WORK)/unix/micropython
UNIX_GIL_BIN := $(WORK)/unix-gil/micropython

.PHONY: unix unix-gil unix-all

$(UNIX_LIB)/README.md:
	mkdir -p $(@D)
	echo "MPY_LIB_DIR for the unix builds: empty (mod/manifest.py takes nothing from it)." > $@

# mpy-cross (mk/firmware.mk builds it) freezes the manifest.
unix: micropython-src $(UNIX_LIB)/README.md $(MICROPY_SRC)/mpy-cross/build/mpy-cross ## The unix port with the module, threads without a GIL (build/unix/micropython)
	@# As for the qemu firmware (mk/firmware.mk): a kept frozen_content.c can
	@# clash with the port's QSTRs once the shim gains a name.
	rm -f $(WORK)/unix/build/frozen_content.c
	$(MAKE) -C $(MICROPY_SRC)/ports/unix $(UNIX_MAKE_FLAGS) BUILD=$(WORK)/unix/build
	ln -sf build/micropython $(UNIX_BIN)

unix-gil: micropython-src $(UNIX_LIB)/README.md $(MICROPY_SRC)/mpy-cross/build/mpy-cross ## The unix port with the module and a GIL like esp32 (build/unix-gil/micropython)
	rm -f $(WORK)/unix-gil/build/frozen_content.c
	$(MAKE) -C $(MICROPY_SRC)/ports/unix $(UNIX_MAKE_FLAGS) MICROPY_PY_THREAD_GIL=1 BUILD=$(WORK)/unix-gil/build
	ln -sf build/micropython $(UNIX_GIL_BIN)

unix-all: unix unix-gil ## Both unix binaries

# ---- the MicroPython suites ---------------------------------------------------

# Extra suites for tests/run.py, as its options: each one
#   --suite-cmd '[LABEL::]COMMAND'
# where COMMAND prints PASS/FAIL/SKIP <name> lines. mk/firmware.mk appends the
# qemu firmware run here with +=.
MICROPYTHON_EXTRA_SUITES ?=
# Extra tests/run.py options, e.g. RUN_PY_FLAGS="-k test_client --only mp".
RUN_PY_FLAGS ?=

.PHONY: test-micropython test-ffi ffi-no-libclang-check

test-ffi: ffi-no-libclang-check ## The C ABI (src/ffi) against the engine, clippy with the micropython feature, bindings and C layout check for riscv32
	cargo test --locked --features micropython ffi
	cargo clippy --locked --features micropython --all-targets -- -D warnings
	cargo clippy --locked --features micropython --target riscv32imac-unknown-none-elf -- -D warnings
	cargo build --locked --release --features micropython --target riscv32imac-unknown-none-elf

ffi-no-libclang-check: ## Plain cargo build/test of the engine pulls in neither bindgen/libclang nor cc
	@set -euo pipefail; \
	deps=$$(cargo tree --locked -e normal,build -p mpcoap --prefix none -f '{p}'); \
	if grep -E '^(bindgen|clang-sys|cc|micropython-sys) ' <<<"$$deps"; then \
	  echo "ffi-no-libclang-check: the default features need the above" >&2; exit 1; \
	fi; \
	echo "ffi-no-libclang-check: default features need no bindgen, libclang or cc"

test-micropython: test-ffi unix-all unittest-lib ## Both unix builds, then tests/run.py: MicroPython, CPython and extra suites (ends with "N passed, M failed")
	WORK=$(WORK) python3 $(ROOT)/tests/run.py --micropython $(UNIX_BIN) --micropython-gil $(UNIX_GIL_BIN) \
	  --lib $(WORK)/lib $(MICROPYTHON_EXTRA_SUITES) $(RUN_PY_FLAGS)

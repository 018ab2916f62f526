# The coap module for MicroPython's esp32 port (and any CMake port that sets
# IDF_TARGET). Use it as
#   make -C ports/esp32 BOARD=... USER_C_MODULES=<repo>/micropython.cmake
# MicroPython's py/usermod.cmake includes this file in the main component's
# real pass, where IDF_TARGET and the compiler are known. Make ports (unix,
# qemu) use mod/micropython.mk instead.
#
# What it does:
# - usermod_coap: an INTERFACE library with the C shim (mod/*.c). MicroPython
#   scans those sources for QSTRs and compiles them into its main component.
# - mpcoap_cargo: a custom target that always runs cargo for the Rust target
#   of the chip (cargo decides what is stale), then turns cargo's staticlib
#   into the archive that firmware links (tools/localize-archive.sh: only
#   mpcoap_* stays global, no libc function is defined).
# - mpcoap_rust: that archive as an IMPORTED static library, linked into
#   usermod_coap and built before anything links it.
#
# Knobs (cache variables, -D on the command line):
#   MPCOAP_CARGO                 cargo binary (default: cargo on PATH)
#   MPCOAP_RUST_TOOLCHAIN_RISCV  rustup toolchain for RISC-V chips (default:
#                                empty = rustup's default, the pinned stable)
#   MPCOAP_RUST_TOOLCHAIN_XTENSA rustup toolchain for Xtensa chips (default: esp)
#   MPCOAP_PARTIAL_LINK_FLAGS    arch flags for `cc -r` when the compiler's
#                                default is not the chip's (Debian's
#                                riscv64-unknown-elf-gcc in the host check)

set(MPCOAP_ROOT ${CMAKE_CURRENT_LIST_DIR})

if(NOT IDF_TARGET)
    message(FATAL_ERROR
        "coap: micropython.cmake needs IDF_TARGET (it is the esp32 port's module entry). "
        "Make-based ports (unix, qemu) take USER_C_MODULES=${MPCOAP_ROOT} and use mod/micropython.mk.")
endif()

set(MPCOAP_CARGO cargo CACHE STRING "cargo binary used to build the coap module")
set(MPCOAP_RUST_TOOLCHAIN_RISCV "" CACHE STRING "rustup toolchain for RISC-V chips (empty: default)")
set(MPCOAP_RUST_TOOLCHAIN_XTENSA esp CACHE STRING "rustup toolchain for Xtensa chips (espup's)")
set(MPCOAP_PARTIAL_LINK_FLAGS "" CACHE STRING "arch flags for the partial link of the Rust archive")

# IDF_TARGET -> Rust target. Xtensa targets are tier 3: core comes from
# -Zbuild-std with espup's `esp` toolchain. RISC-V targets ship a prebuilt core.
set(MPCOAP_BUILD_STD "")
set(MPCOAP_TOOLCHAIN "")
if(IDF_TARGET MATCHES "^esp32(s2|s3)?$")
    set(MPCOAP_RUST_TARGET xtensa-${IDF_TARGET}-none-elf)
    set(MPCOAP_TOOLCHAIN ${MPCOAP_RUST_TOOLCHAIN_XTENSA})
    set(MPCOAP_BUILD_STD -Zbuild-std=core)
elseif(IDF_TARGET MATCHES "^esp32c[23]$")
    # No atomic (A) extension on these.
    set(MPCOAP_RUST_TARGET riscv32imc-unknown-none-elf)
    set(MPCOAP_TOOLCHAIN ${MPCOAP_RUST_TOOLCHAIN_RISCV})
elseif(IDF_TARGET MATCHES "^esp32(c5|c6|c61|h2)$")
    set(MPCOAP_RUST_TARGET riscv32imac-unknown-none-elf)
    set(MPCOAP_TOOLCHAIN ${MPCOAP_RUST_TOOLCHAIN_RISCV})
elseif(IDF_TARGET STREQUAL "esp32p4")
    # Hard-float ABI (ilp32f), as ESP-IDF compiles the P4. Not tried on a
    # board: MicroPython 1.26.1 has no ESP32-P4 board.
    set(MPCOAP_RUST_TARGET riscv32imafc-unknown-none-elf)
    set(MPCOAP_TOOLCHAIN ${MPCOAP_RUST_TOOLCHAIN_RISCV})
else()
    message(FATAL_ERROR
        "coap: IDF_TARGET '${IDF_TARGET}' is not supported. Supported chips: "
        "esp32, esp32s2, esp32s3 (Xtensa, espup's esp toolchain); esp32c2, esp32c3 "
        "(riscv32imc); esp32c5, esp32c6, esp32c61, esp32h2 (riscv32imac); esp32p4 "
        "(riscv32imafc). See docs/firmware.md, \"Adding a board\".")
endif()
if(MPCOAP_TOOLCHAIN)
    set(MPCOAP_TOOLCHAIN_NOTE "toolchain ${MPCOAP_TOOLCHAIN}")
else()
    set(MPCOAP_TOOLCHAIN_NOTE "rustup's default toolchain")
endif()
message(STATUS "coap: IDF_TARGET ${IDF_TARGET} -> Rust target ${MPCOAP_RUST_TARGET}, "
    "${MPCOAP_TOOLCHAIN_NOTE} ${MPCOAP_BUILD_STD}")

# The shim: compiled by MicroPython's build with the port's flags.
file(GLOB MPCOAP_SHIM_SOURCES CONFIGURE_DEPENDS ${MPCOAP_ROOT}/mod/*.c)
add_library(usermod_coap INTERFACE)
target_sources(usermod_coap INTERFACE ${MPCOAP_SHIM_SOURCES})
target_include_directories(usermod_coap INTERFACE ${MPCOAP_ROOT}/mod)

# The shim's sources are compiled twice on the esp32 port: for the main
# component (esp32_common.cmake links it to `usermod`, whose INTERFACE_SOURCES
# it takes) and, since that link is transitive, for the executable that
# ESP-IDF's project() creates in the top directory (tools/cmake/project.cmake
# v5.4.2 :764, linking each component :812). The executable's objects are
# the ones linked. ESP-IDF gives its build options (-O2 or -Os,
# -ffunction-sections, -fdata-sections, -std=gnu17, NDEBUG, ...) to each
# component's directory only (tools/cmake/component.cmake :466-479, from
# CMakeLists.txt :18-35, :143-144 and tools/cmake/build.cmake :119-165), so on
# MicroPython <= 1.26.x the executable's copy of the shim is compiled without
# them (micropython#18880): unoptimised, and without --gc-sections' sections.
# The same options, read the way component.cmake reads them (generator
# expressions of the final build properties), are set here on the shim's
# sources in the top directory, where only the executable sees them.
# MicroPython 1.28.0 gives `usermod` the COMPILE_OPTIONS itself
# (micropython#18884, esp32_common.cmake `target_compile_options(usermod
# INTERFACE ...)`): where usermod carries any interface compile options, the
# COMPILE_OPTIONS part is left out, so no option is given twice; the C options
# and definitions, which that fix does not add, stay.
# set_source_files_properties(... DIRECTORY) needs CMake 3.18; ESP-IDF 5.4.2
# installs 3.30.2 (tools/tools.json) and supports 3.16.
if(COMMAND idf_build_get_property AND NOT CMAKE_BUILD_EARLY_EXPANSION)
    if(CMAKE_VERSION VERSION_LESS 3.18)
        message(WARNING "coap: CMake ${CMAKE_VERSION} < 3.18: the C shim is linked without "
            "ESP-IDF's compile options (unoptimised, micropython#18880). Use ESP-IDF's CMake 3.30.")
    else()
        idf_build_get_property(MPCOAP_IDF_COMPILE_OPTIONS COMPILE_OPTIONS GENERATOR_EXPRESSION)
        idf_build_get_property(MPCOAP_IDF_C_COMPILE_OPTIONS C_COMPILE_OPTIONS GENERATOR_EXPRESSION)
        idf_build_get_property(MPCOAP_IDF_COMPILE_DEFINITIONS COMPILE_DEFINITIONS GENERATOR_EXPRESSION)
        set(MPCOAP_USERMOD_HAS_OPTIONS "$<BOOL:$<TARGET_PROPERTY:usermod,INTERFACE_COMPILE_OPTIONS>>")
        set_source_files_properties(${MPCOAP_SHIM_SOURCES} DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTIES
            COMPILE_OPTIONS
                "$<$<NOT:${MPCOAP_USERMOD_HAS_OPTIONS}>:${MPCOAP_IDF_COMPILE_OPTIONS}>;${MPCOAP_IDF_C_COMPILE_OPTIONS}"
            COMPILE_DEFINITIONS "${MPCOAP_IDF_COMPILE_DEFINITIONS}")
    endif()
endif()

# cargo's environment. cc-rs reads CC_/AR_/CFLAGS_<target> (target with
# underscores), so C that a crate compiles uses ESP-IDF's compiler, and on
# Xtensa gets -mlongcalls as ESP-IDF's own C does (without it such code fails
# to link with "call target out of range"). Rust code itself needs no flag.
string(REPLACE "-" "_" MPCOAP_TARGET_US ${MPCOAP_RUST_TARGET})
set(MPCOAP_CARGO_ENV
    CC_${MPCOAP_TARGET_US}=${CMAKE_C_COMPILER}
    AR_${MPCOAP_TARGET_US}=${CMAKE_AR})
if(MPCOAP_TOOLCHAIN)
    list(APPEND MPCOAP_CARGO_ENV RUSTUP_TOOLCHAIN=${MPCOAP_TOOLCHAIN})
endif()
if(MPCOAP_RUST_TARGET MATCHES "^xtensa")
    list(APPEND MPCOAP_CARGO_ENV CFLAGS_${MPCOAP_TARGET_US}=-mlongcalls)
endif()

# Per build directory, so boards never share (or clobber) each other's output.
set(MPCOAP_CARGO_DIR ${CMAKE_BINARY_DIR}/mpcoap-cargo)
set(MPCOAP_CARGO_OUT ${MPCOAP_CARGO_DIR}/${MPCOAP_RUST_TARGET}/release/libmpcoap.a)
set(MPCOAP_ARCHIVE ${CMAKE_BINARY_DIR}/mpcoap/libmpcoap_fw.a)

add_custom_target(mpcoap_cargo
    COMMAND ${CMAKE_COMMAND} -E env ${MPCOAP_CARGO_ENV}
        ${MPCOAP_CARGO} rustc --manifest-path ${MPCOAP_ROOT}/Cargo.toml
        --lib --crate-type staticlib --features micropython --release --locked
        --target ${MPCOAP_RUST_TARGET} --target-dir ${MPCOAP_CARGO_DIR} ${MPCOAP_BUILD_STD}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/mpcoap
    COMMAND ${CMAKE_COMMAND} -E env ${MPCOAP_CARGO_ENV}
        MPCOAP_CC=${CMAKE_C_COMPILER} "MPCOAP_CC_FLAGS=${MPCOAP_PARTIAL_LINK_FLAGS}"
        MPCOAP_LOCALIZE_IF_NEWER=1
        ${MPCOAP_ROOT}/tools/localize-archive.sh ${MPCOAP_CARGO_OUT} ${MPCOAP_ARCHIVE}
    BYPRODUCTS ${MPCOAP_CARGO_OUT} ${MPCOAP_ARCHIVE}
    WORKING_DIRECTORY ${MPCOAP_ROOT}
    COMMENT "coap: cargo (${MPCOAP_RUST_TARGET}) and symbol localisation"
    USES_TERMINAL
    VERBATIM)

add_library(mpcoap_rust STATIC IMPORTED GLOBAL)
set_target_properties(mpcoap_rust PROPERTIES IMPORTED_LOCATION ${MPCOAP_ARCHIVE})
add_dependencies(mpcoap_rust mpcoap_cargo)
target_link_libraries(usermod_coap INTERFACE mpcoap_rust)

target_link_libraries(usermod INTERFACE usermod_coap)

#!/usr/bin/env bash
# tests/install.sh — the installed Strata works for a program outside this tree:
#  - `cmake --install` into a temporary prefix;
#  - a tiny C program built with `pkg-config --cflags --libs strata` (shared library)
#    and, in a second prefix without libstrata.so, with `pkg-config --static`;
#  - each runs strata_version() and strata_open/strata_close on a temp dir, and finds
#    libstrata.so / libduckdb.so without LD_LIBRARY_PATH (rpath);
#  - the installed `strata` CLI runs `strata --help`;
#  - DESTDIR staging puts files under DESTDIR and keeps the real prefix in strata.pc.
# Run by CTest with STRATA_SOURCE_DIR and STRATA_BINARY_DIR set.
#
# SC2086: $CC and pkg-config's output are split into words on purpose.
# SC2015: `test && ok ... || fail ...` is safe here: ok always succeeds.
# shellcheck disable=SC2086,SC2015
set -uo pipefail

: "${STRATA_BINARY_DIR:?set STRATA_BINARY_DIR to a configured and built Strata build directory}"
: "${STRATA_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

TMP=$(realpath "$(mktemp -d "${TMPDIR:-/tmp}/strata-install-test.XXXXXX")")
trap 'rm -rf "$TMP"' EXIT
unset LD_LIBRARY_PATH LD_PRELOAD PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR

CC=${CC:-cc}
# A sanitized build's libraries need the sanitizer runtime in the program too.
SAN_FLAGS=()
if grep -q '^STRATA_SANITIZE:BOOL=ON' "$STRATA_BINARY_DIR/CMakeCache.txt" 2>/dev/null; then
    # shellcheck disable=SC2054 # the comma belongs to the flag
    SAN_FLAGS=(-fsanitize=address,undefined -fno-omit-frame-pointer)
fi

# The directory holding strata.pc under an installed prefix (lib/pkgconfig, or
# lib/<multiarch>/pkgconfig, lib64/pkgconfig).
pc_dir_of() {
    local pc
    pc=$(find "$1" -path '*/pkgconfig/strata.pc' -print -quit 2>/dev/null)
    [ -n "$pc" ] && dirname "$pc"
}

# Where the dynamic loader resolves a library for a binary ("" if not found).
# The path is canonical (no symlinks, no ..), like the LIBDIR it is compared with.
resolved() { # BINARY LIBNAME
    local p
    p=$(ldd "$1" 2>/dev/null | awk -v lib="$2" 'index($1, lib) == 1 { print ($3 == "not" ? "" : $3); exit }')
    [ -n "$p" ] && realpath -e "$p" 2>/dev/null
}

# Every shared library BINARY needs is found without LD_LIBRARY_PATH, and libduckdb.so,
# when it is needed (the linker drops it while nothing calls DuckDB yet) and was
# installed with Strata, is the installed copy, not the build tree's.
check_deps() { # BINARY WHAT [LIBDIR]
    local missing lib libdir=${3:-$LIBDIR}
    missing=$(ldd "$1" 2>&1 | awk '/not found/ { print $1 }' | tr '\n' ' ')
    if [ -z "$missing" ]; then ok "$2: every shared library resolves"
    else fail "$2: not found at run time: $missing"; fi
    lib=$(resolved "$1" libduckdb.so)
    if [ -n "$lib" ] && [ -f "$libdir/libduckdb.so" ]; then
        case "$lib" in
            "$libdir"/*) ok "$2 loads the installed libduckdb.so" ;;
            *) fail "$2 loads libduckdb.so from $lib, want $libdir" ;;
        esac
    fi
}

cat > "$TMP/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strata.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    const char *v = strata_version();
    if (!v || strcmp(v, STRATA_VERSION) != 0) {
        fprintf(stderr, "strata_version() = %s, header says %s\n", v ? v : "(null)", STRATA_VERSION);
        return 1;
    }
    strata_options opts = strata_options_default();
    opts.create = 1;
    strata *db = NULL;
    int rc = strata_open(argv[1], &opts, &db);
    if (rc != STRATA_OK) {
        fprintf(stderr, "strata_open(%s): %s: %s\n", argv[1], strata_errstr(rc), strata_open_errmsg());
        return 1;
    }
    rc = strata_close(db);
    if (rc != STRATA_OK) {
        fprintf(stderr, "strata_close: %s\n", strata_errstr(rc));
        return 1;
    }
    printf("strata %s: opened and closed %s\n", v, argv[1]);
    return 0;
}
EOF

# ---- 1. install into a prefix ------------------------------------------------
PREFIX="$TMP/prefix"
if cmake --install "$STRATA_BINARY_DIR" --prefix "$PREFIX" > "$TMP/install.log" 2>&1; then
    ok "cmake --install --prefix $PREFIX"
else
    cat "$TMP/install.log" >&2
    fail "cmake --install --prefix $PREFIX"
    finish
fi

PCDIR=$(pc_dir_of "$PREFIX")
LIBDIR=$(realpath -e "${PCDIR%/pkgconfig}" 2>/dev/null)
if [ -n "$PCDIR" ]; then ok "strata.pc installed in $PCDIR"; else fail "no pkgconfig/strata.pc under $PREFIX"; finish; fi
[ -f "$PREFIX/include/strata.h" ] && ok "strata.h installed" || fail "strata.h not in $PREFIX/include"
[ -f "$LIBDIR/libstrata.a" ] && ok "libstrata.a installed" || fail "libstrata.a not in $LIBDIR"
ls "$LIBDIR"/libstrata.so* > /dev/null 2>&1 && ok "libstrata.so installed" || fail "libstrata.so not in $LIBDIR"
if grep -q '^STRATA_INSTALL_DUCKDB:BOOL=ON' "$STRATA_BINARY_DIR/CMakeCache.txt" 2>/dev/null; then
    [ -f "$LIBDIR/libduckdb.so" ] && ok "libduckdb.so installed beside libstrata" ||
        fail "libduckdb.so not in $LIBDIR"
fi
if grep -qx "prefix=$PREFIX" "$PCDIR/strata.pc"; then ok "strata.pc names the install prefix"
else fail "strata.pc prefix is not $PREFIX: $(grep '^prefix=' "$PCDIR/strata.pc")"; fi

pc() { PKG_CONFIG_PATH="$1" pkg-config "${@:2}"; }

if pc "$PCDIR" --exists --print-errors strata; then ok "pkg-config finds strata"
else fail "pkg-config --exists strata (PKG_CONFIG_PATH=$PCDIR)"; fi
if [ "$(pc "$PCDIR" --modversion strata)" = "$(sed -n 's/^#define STRATA_VERSION *"\(.*\)"/\1/p' "$STRATA_SOURCE_DIR/include/strata.h")" ]; then
    ok "pkg-config --modversion matches STRATA_VERSION"
else fail "pkg-config --modversion strata = $(pc "$PCDIR" --modversion strata)"; fi

# ---- 2. a program linked with the shared library -----------------------------
if flags=$(pc "$PCDIR" --cflags --libs strata) &&
   $CC "${SAN_FLAGS[@]}" -o "$TMP/prog-shared" "$TMP/prog.c" $flags 2> "$TMP/cc.log"; then
    ok "cc prog.c \$(pkg-config --cflags --libs strata)"
    lib=$(resolved "$TMP/prog-shared" libstrata.so)
    case "$lib" in
        "$LIBDIR"/*) ok "prog finds the installed libstrata.so via rpath ($lib)" ;;
        *) fail "prog resolves libstrata.so to '${lib:-not found}', want $LIBDIR" ;;
    esac
    check_deps "$TMP/prog-shared" "prog (shared)"
    if "$TMP/prog-shared" "$TMP/store-shared"; then ok "prog (shared) opens and closes a store"
    else fail "prog (shared) exited $?"; fi
    [ -f "$TMP/store-shared/STRATA" ] && ok "store created by prog (shared)" ||
        fail "no STRATA file in $TMP/store-shared"
else
    cat "$TMP/cc.log" >&2
    fail "cc prog.c with pkg-config strata flags: ${flags:-(pkg-config failed)}"
fi

# ---- 3. a program linked statically against libstrata.a -----------------------
SPREFIX="$TMP/static-prefix"
if cmake --install "$STRATA_BINARY_DIR" --prefix "$SPREFIX" > "$TMP/install-static.log" 2>&1; then
    SPCDIR=$(pc_dir_of "$SPREFIX")
    SLIBDIR=$(realpath -e "${SPCDIR%/pkgconfig}")
    rm -f "$SLIBDIR"/libstrata.so*
    if flags=$(pc "$SPCDIR" --static --cflags --libs strata) &&
       $CC "${SAN_FLAGS[@]}" -o "$TMP/prog-static" "$TMP/prog.c" $flags 2> "$TMP/cc-static.log"; then
        ok "cc prog.c \$(pkg-config --static --cflags --libs strata) with only libstrata.a"
        if readelf -d "$TMP/prog-static" | grep -q 'NEEDED.*libstrata'; then
            fail "prog-static needs libstrata.so"
        else ok "prog-static does not need libstrata.so"; fi
        check_deps "$TMP/prog-static" "prog (static)" "$SLIBDIR"
        if "$TMP/prog-static" "$TMP/store-static"; then ok "prog (static) opens and closes a store"
        else fail "prog (static) exited $?"; fi
    else
        cat "$TMP/cc-static.log" >&2
        fail "static link with pkg-config --static strata: ${flags:-(pkg-config failed)}"
    fi
else
    cat "$TMP/install-static.log" >&2
    fail "cmake --install --prefix $SPREFIX"
fi

# ---- 4. the installed CLI ----------------------------------------------------
CLI="$PREFIX/bin/strata"
if [ -x "$CLI" ]; then
    ok "strata CLI installed in $PREFIX/bin"
    check_deps "$CLI" "installed CLI"
    if out=$("$CLI" --help 2>&1); then
        if [ -n "$out" ]; then ok "strata --help exits 0 with help text"
        else fail "strata --help printed nothing"; fi
    else
        echo "$out" >&2
        fail "strata --help exited non-zero"
    fi
else
    fail "no executable strata CLI at $CLI"
fi

# ---- 5. DESTDIR staging ------------------------------------------------------
if DESTDIR="$TMP/stage" cmake --install "$STRATA_BINARY_DIR" --prefix /opt/strata-test > "$TMP/install-destdir.log" 2>&1; then
    DPC=$(pc_dir_of "$TMP/stage/opt/strata-test")
    if [ -n "$DPC" ] && [ -f "$TMP/stage/opt/strata-test/include/strata.h" ]; then
        ok "DESTDIR install lands under DESTDIR/prefix"
        grep -qx 'prefix=/opt/strata-test' "$DPC/strata.pc" &&
            ok "DESTDIR install keeps the real prefix in strata.pc" ||
            fail "DESTDIR strata.pc: $(grep '^prefix=' "$DPC/strata.pc")"
    else
        fail "DESTDIR install: files not under $TMP/stage/opt/strata-test"
    fi
    [ ! -e /opt/strata-test ] && ok "DESTDIR install wrote nothing outside DESTDIR" ||
        fail "/opt/strata-test exists after a DESTDIR install"
else
    cat "$TMP/install-destdir.log" >&2
    fail "DESTDIR=... cmake --install --prefix /opt/strata-test"
fi

finish

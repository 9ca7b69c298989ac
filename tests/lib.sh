# shellcheck shell=bash
# lib.sh — sourced by the CLI contract tests (cli.sh, cli_docs.sh, cli_backup.sh,
# cli_vec.sh, analytics_cli.sh); not a test itself (tests/CMakeLists.txt leaves it
# out of the tests/*.sh glob). It holds their shared preamble and check helpers:
#
#   . "$(dirname "$0")/lib.sh"        # before any cd: the path may be relative
#   need_cli                          # $CLI from STRATA_CLI, or exit 2
#   need python3 "to check JSON"      # a tool the script needs, or exit 2
#   workdir strata-cli                # $T (removed at exit), cd there, $S, no STRATA_DIR
#   ...checks...
#   finish                            # "N passed, N failed"; the script's status
#
# Every check prints what went wrong and goes on. Settings a script may change after
# sourcing (the scripts differed here; each keeps its own):
#   FAIL_STDOUT_BYTES  fail shows at most this many bytes of stdout (its first 5
#                      lines in any case); empty: no byte cap. Default 400.
#   PY_IMPORTS         the modules `py` imports for its expression. Default json,os,sys.

# The script's name, for messages ("cli.sh: ...").
ME=${0##*/}
FAIL_STDOUT_BYTES=400
PY_IMPORTS=json,os,sys

passed=0
failed=0
rc=0
last=""

# need_cli: CLI is the strata binary named by STRATA_CLI.
need_cli() {
    CLI=${STRATA_CLI:-}
    if [ -z "$CLI" ] || [ ! -x "$CLI" ]; then
        echo "$ME: set STRATA_CLI to the strata binary" >&2
        exit 2
    fi
}

# need TOOL [WHY]: exit 2 unless TOOL is on PATH ("TOOL is needed WHY").
need() {
    command -v "$1" >/dev/null || { echo "$ME: $1 is needed${2:+ $2}" >&2; exit 2; }
}

# workdir PREFIX: T is a new directory ${TMPDIR:-/tmp}/PREFIX-XXXXXX, removed at exit,
# and the current directory (so a default ./strata-data can only appear there); the
# environment's STRATA_DIR is dropped; S="$T/store".
workdir() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/$1-XXXXXX") || exit 2
    trap 'rm -rf "$T"' EXIT
    cd "$T" || exit 2
    unset STRATA_DIR
    S="$T/store"
}

# finish: the summary line; the status (last command of the script) is 0 iff no
# check failed.
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*"
    echo "  command: $last (exit $rc)"
    if [ -n "$FAIL_STDOUT_BYTES" ]; then
        head -c "$FAIL_STDOUT_BYTES" "$T/out" | sed -n '1,5s/^/  stdout: /p'
    else
        sed -n '1,5s/^/  stdout: /p' "$T/out"
    fi
    sed -n '1,5s/^/  stderr: /p' "$T/err"
}

# run ARGS...: the CLI with stdin from /dev/null; stdout in $T/out, stderr in $T/err,
# the status in $rc.
run() {
    last="strata $*"
    "$CLI" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
}

# t STATUS ARGS...: the CLI exits with STATUS.
t() {
    local want=$1; shift
    run "$@"
    if [ "$rc" -eq "$want" ]; then pass; else fail "exit $rc, want $want"; fi
}

# t_out STATUS EXPECTED ARGS...: status and exact stdout.
t_out() {
    local want=$1 expect=$2; shift 2
    run "$@"
    local got
    got=$(cat "$T/out")
    if [ "$rc" -eq "$want" ] && [ "$got" = "$expect" ]; then pass
    else fail "want exit $want and stdout '$expect', got '$got'"; fi
}

# t_json ARGS...: exit 0 and stdout is one valid JSON document.
t_json() {
    run "$@"
    if [ "$rc" -eq 0 ] && python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out" 2>/dev/null
    then pass; else fail "want exit 0 and valid JSON"; fi
}

# py EXPR: EXPR holds for d, the last stdout parsed as one JSON document.
py() {
    if python3 -c "import $PY_IMPORTS; d=json.load(sys.stdin); assert ($1), d" <"$T/out" 2>/dev/null
    then pass; else fail "JSON check: $1"; fi
}

# has_out TEXT / has_err TEXT: the last stdout / stderr contains TEXT.
has_out() { if grep -qF -- "$1" "$T/out"; then pass; else fail "stdout lacks '$1'"; fi; }
has_err() { if grep -qF -- "$1" "$T/err"; then pass; else fail "stderr lacks '$1'"; fi; }
# no_out: the last stdout is empty.
no_out() { if [ ! -s "$T/out" ]; then pass; else fail "unexpected stdout"; fi; }

# full_fails ARGS: `strata --dir $S ARGS` (ARGS one string, split at spaces) with
# stdout on /dev/full exits 1. The caller checks that /dev/full is writable.
full_fails() {
    last="strata $1 > /dev/full"
    # shellcheck disable=SC2086
    "$CLI" --dir "$S" $1 >/dev/full 2>"$T/err"; rc=$?
    if [ "$rc" -eq 1 ]; then pass; else fail "$1 > /dev/full must exit 1"; fi
}

# stat_field NAME [DIR]: one number from `stats --json` (DIR defaults to $S).
stat_field() {
    "$CLI" --dir "${2:-$S}" stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

# flip FILE OFFSET: invert one byte (negative offsets count from the end).
flip() {
    python3 - "$1" "$2" <<'EOF'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as f:
    f.seek(off, 0 if off >= 0 else 2)
    pos = f.tell()
    b = f.read(1)
    f.seek(pos)
    f.write(bytes([b[0] ^ 0xff]))
EOF
}

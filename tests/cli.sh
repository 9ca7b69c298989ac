#!/usr/bin/env bash
# cli.sh — the contract of the `strata` command (issue 2): every command and flag,
# exit statuses (0 ok, 1 failed operation, 2 usage error), --json output that parses,
# help for every command, STRATA_DIR, session expiry and write errors on stdout.
# Run by CTest with STRATA_CLI set to the binary; prints "N passed, N failed".
set -u

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"     # the shared preamble and helpers
need_cli
need python3 "to check JSON"
workdir strata-cli             # cd "$T": the default ./strata-data can only appear here
FAIL_STDOUT_BYTES=             # fail shows stdout's first 5 lines without a byte cap
TAB=$'\t'

# ---- helpers (pass, fail, run, t, t_out, t_json, py, has_out, has_err: lib.sh) ----

# quiet_err: the last stderr is empty.
quiet_err() { if [ ! -s "$T/err" ]; then pass; else fail "unexpected stderr"; fi; }

# same_list LABEL: `setting list` and `session list` are what they were at snapshot.
snapshot() {
    "$CLI" --dir "$S" setting list --json >"$T/snap.settings" 2>&1
    "$CLI" --dir "$S" session list --json >"$T/snap.sessions" 2>&1
}
unchanged() {
    "$CLI" --dir "$S" setting list --json >"$T/now.settings" 2>&1
    "$CLI" --dir "$S" session list --json >"$T/now.sessions" 2>&1
    if cmp -s "$T/snap.settings" "$T/now.settings" && cmp -s "$T/snap.sessions" "$T/now.sessions"
    then pass; else fail "store changed after: $1"; fi
}

# ---- version, help, usage errors without a store ----

t 0 --version;                has_out "strata 0.1.0"
t 0 help;                     has_out "usage: strata"
t 0 --help;                   has_out "setting get"
t 0 -h;                       has_out "session expire"
for c in init stats help "setting" "session" \
         "setting get" "setting set" "setting del" "setting list" \
         "session new" "session get" "session touch" "session del" "session list" \
         "session expire"; do
    # shellcheck disable=SC2086
    t 0 help $c;              has_out "usage: strata"
    # shellcheck disable=SC2086
    t 0 $c --help;            has_out "usage: strata"
    # shellcheck disable=SC2086
    t 0 $c -h
done
t 0 help setting get;         has_out "--json"
t 0 help session new
for f in --ttl --data --id --json; do has_out "$f"; done
t 0 session expire --help;    has_out "--idle"
t 0 --help setting;           has_out "setting list"
t 0 help --dir "$T/none"                              # help never opens the store
t 0 setting get --help --bogus               # help wins over a bad flag
t 2;                          has_err "missing command"
t 2 frobnicate;               has_err "unknown command"; has_err "strata help"
t 2 frobnicate --help;        has_err "unknown command"
t 2 help frobnicate;          has_err "strata help"
t 2 help setting frob
t 2 help stats extra
t 2 setting;                  has_err "missing command"; has_err "strata help setting"
t 2 setting frob;             has_err "unknown command"
t 2 --bogus;                  has_err "unknown option"
t 2 --version=1
t 2 --dir;                    has_err "needs a value"
[ ! -e "$T/strata-data" ] && pass || fail "a usage error created ./strata-data"

# ---- missing store, non-store directory ----

t 1 --dir "$T/none" stats;                has_err "strata init"
t 1 --dir "$T/none" setting get k;        has_err "strata: "
t 1 --dir "$T/none" session list
[ ! -e "$T/none" ] && pass || fail "opening a missing store created it"
mkdir "$T/empty"
t 1 --dir "$T/empty" setting list;        has_err "strata init"
mkdir "$T/junk"; echo precious >"$T/junk/file.txt"
t 1 --dir "$T/junk" init;                 has_err "strata: "
t 1 --dir "$T/junk" stats
if [ "$(ls -A "$T/junk")" = "file.txt" ] && [ "$(cat "$T/junk/file.txt")" = precious ]
then pass; else fail "a refused directory was modified"; fi

# ---- init ----

t 0 --dir "$S" init;          has_out "$S"; quiet_err
t 0 --dir "$S" init                                   # again: opens the existing store
t_json --dir "$S" init --json; py "d['dir'].endswith('/store')"
t 0 init --dir "$S"                                   # --dir after the command
t 0 --dir "$T/empty" init                             # an empty directory becomes a store
t 0 --dir "$T/empty" stats

# ---- settings ----

t_out 0 "" --dir "$S" setting list
t_out 0 "[]" --dir "$S" setting list --json
t_out 0 "" --dir "$S" setting set theme '"dark"';  quiet_err
t_out 0 '"dark"' --dir "$S" setting get theme
t_json --dir "$S" setting get theme --json
py "d['key'] == 'theme' and d['value'] == 'dark' and isinstance(d['updated_at_ms'], int) and d['updated_at_ms'] > 1500000000000"
t_json --dir "$S" setting get --json theme            # flag before the argument
t_json --dir "$S" --json setting get theme            # flag before the command
t_out 0 '"dark"' setting get theme --dir "$S"         # --dir after the argument
t 0 --dir "$S" setting set theme '"light"'
t_out 0 '"light"' --dir "$S" setting get theme
t 0 --dir "$S" setting set layout '{ "cols" : [1, 2],
  "name": "a b" }'
t_out 0 '{"cols":[1,2],"name":"a b"}' --dir "$S" setting get layout   # one line
t_json --dir "$S" setting get layout --json; py "d['value'] == {'cols': [1, 2], 'name': 'a b'}"
t 0 --dir "$S" setting set neg -5                     # a negative number is an argument
t_out 0 "-5" --dir "$S" setting get neg
t 0 --dir "$S" setting set -- -dash 'null'            # -- ends options
t_out 0 "null" --dir "$S" setting get -- -dash
t 2 --dir "$S" setting get -dash;       has_err "unknown option"
printf ' {"from": "stdin"}\n\n' >"$T/piped.json"
last="setting set piped - <piped.json"
"$CLI" --dir "$S" setting set piped - <"$T/piped.json" >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 0 ] && pass || fail "setting set KEY - (stdin)"
t_out 0 '{"from":"stdin"}' --dir "$S" setting get piped
t_json --dir "$S" setting get piped --json
[ "$(wc -l <"$T/out")" -eq 1 ] && pass || fail "stdin JSON stored with its newlines"
last="session new --data - <piped.json"
"$CLI" --dir "$S" session new --id piped --data - <"$T/piped.json" >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 0 ] && pass || fail "session new --data - (stdin)"
t_json --dir "$S" session get piped --json;  py "d['data'] == {'from': 'stdin'}"
t 0 --dir "$S" session del piped
t_out 0 '-5' --dir "$S" setting get neg

# Awkward keys: quotes, backslashes, tabs, newlines, non-ASCII.
weird=$'we"ird\\key\twith\ttabs\nand newline é'
export WEIRD="$weird"
t 0 --dir "$S" setting set "$weird" '"w"'
t_out 0 '"w"' --dir "$S" setting get "$weird"
t_json --dir "$S" setting get "$weird" --json
py "d['key'] == os.environ['WEIRD']"
t 0 --dir "$S" setting list
has_out $'we"ird\\key\\x09with\\x09tabs\\x0aand newline é\t"w"'   # one line, escaped
# Bytes that are not UTF-8: the store may refuse such a key (exit 1), but if it keeps
# it, --json must still be valid JSON.
bad=$'bad\xff\xfeutf8'
run --dir "$S" setting set "$bad" 1
if [ "$rc" -eq 0 ]; then
    pass
    t_json --dir "$S" setting get "$bad" --json; py "d['key'] == 'bad\ufffd\ufffdutf8'"
    t 0 --dir "$S" setting del "$bad"
elif [ "$rc" -eq 1 ]; then pass
else fail "non-UTF-8 key: exit $rc"; fi

t_json --dir "$S" setting list --json
py "[s['key'] for s in d] == sorted(s['key'] for s in d) and len(d) == 6"
py "all(set(s) == {'key', 'value', 'updated_at_ms'} for s in d)"
py "{s['key']: s['value'] for s in d}['layout'] == {'cols': [1, 2], 'name': 'a b'}"

# Failures change nothing.
snapshot
t 1 --dir "$S" setting set theme '{bad';         has_err "strata: "
t 1 --dir "$S" setting set fresh 'not json'
t 1 --dir "$S" setting set fresh ''
t 1 --dir "$S" setting set fresh '{"a":1'
t 1 --dir "$S" setting set fresh '[1,]'
t 1 --dir "$S" setting get fresh;                has_err "fresh"
long=$(printf 'k%.0s' $(seq 1025))
t 1 --dir "$S" setting set "$long" 1
t 1 --dir "$S" setting get "$long"
t 1 --dir "$S" setting set "" 1
t 1 --dir "$S" setting del nosuch
t 2 --dir "$S" setting get
t 2 --dir "$S" setting get a b;         has_err "unexpected argument"; has_err "strata help setting get"
t 2 --dir "$S" setting set theme;       has_err "missing argument"; has_err "usage: strata setting set KEY JSON"
t 2 --dir "$S" setting set a 1 2
t 2 --dir "$S" setting set a 1 --json;  has_err "unknown option"
t 2 --dir "$S" setting get theme --bogus
t 2 --dir "$S" setting get theme --json=yes
t 2 --dir "$S" setting del
t 2 --dir "$S" setting list extra
t 2 --dir "" setting list
unchanged "failed setting commands"
t_out 0 '"light"' --dir "$S" setting get theme

max=$(printf 'k%.0s' $(seq 1024))                     # STRATA_KEY_MAX bytes is fine
t 0 --dir "$S" setting set "$max" 1
t_out 0 1 --dir "$S" setting get "$max"
t 0 --dir "$S" setting del "$max"

t_out 0 "" --dir "$S" setting del neg
t 1 --dir "$S" setting get neg
t 1 --dir "$S" setting del neg

# Human list: KEY<TAB>JSON in key order, in a store of its own.
L="$T/list"
t 0 --dir "$L" init
t 0 --dir "$L" setting set b '[true, false]'
t 0 --dir "$L" setting set a '{"x": "y z"}'
t 0 --dir "$L" setting set c '3.5e2'
t_out 0 $'a\t{"x":"y z"}\nb\t[true,false]\nc\t3.5e2' --dir "$L" setting list

# ---- STRATA_DIR and the default directory ----

last="STRATA_DIR=... setting get theme"
out=$(STRATA_DIR="$S" "$CLI" setting get theme 2>"$T/err"); rc=$?
[ "$rc" -eq 0 ] && [ "$out" = '"light"' ] && pass || fail "STRATA_DIR not honoured"
last="STRATA_DIR=missing --dir S setting get theme"
out=$(STRATA_DIR="$T/none" "$CLI" --dir "$S" setting get theme 2>"$T/err"); rc=$?
[ "$rc" -eq 0 ] && [ "$out" = '"light"' ] && pass || fail "--dir does not override STRATA_DIR"
last="STRATA_DIR=missing stats"
STRATA_DIR="$T/none" "$CLI" stats >/dev/null 2>&1; rc=$?
[ "$rc" -eq 1 ] && pass || fail "STRATA_DIR pointing nowhere should fail"
mkdir "$T/cwd"
last="(cd cwd) init"
(cd "$T/cwd" && "$CLI" init >"$T/out" 2>"$T/err"); rc=$?
[ "$rc" -eq 0 ] && [ -d "$T/cwd/strata-data" ] && pass || fail "default ./strata-data"
(cd "$T/cwd" && "$CLI" setting set here true && "$CLI" setting get here >"$T/out" 2>"$T/err"); rc=$?
[ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = true ] && pass || fail "default directory reused"

# ---- sessions ----

t 0 --dir "$S" session new
id=$(cat "$T/out")
[[ "$id" =~ ^[0-9a-f]{32}$ ]] && pass || fail "generated id '$id' is not 32 hex digits"
t_json --dir "$S" session get "$id" --json
py "d['id'] == '$id' and d['data'] == {} and d['ttl_s'] == 0 and d['created_at_ms'] <= d['last_accessed_ms']"
t_out 0 "s1" --dir "$S" session new --id s1 --data '{"user": "ann", "n": [1, 2]}' --ttl 3600
t_json --dir "$S" session new --json --data '{}';   py "len(d['id']) == 32"
t_out 0 "s2" --dir "$S" session new --ttl=60 --id=s2
t 0 --dir "$S" session get s1
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
if grep -qx "id  *s1" "$T/out" && grep -qEx "created +$iso" "$T/out" &&
   grep -qEx "last_accessed +$iso" "$T/out" && grep -qx "ttl  *3600s" "$T/out" &&
   grep -qx 'data  *{"user":"ann","n":\[1,2\]}' "$T/out"
then pass; else fail "session get human output"; fi
t_json --dir "$S" session get --json s1
py "d['data'] == {'user': 'ann', 'n': [1, 2]} and d['ttl_s'] == 3600"
before=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["last_accessed_ms"])' <"$T/out")
sleep 0.1
t_out 0 "" --dir "$S" session touch s1
t_json --dir "$S" session get s1 --json;   py "d['last_accessed_ms'] > $before"
t 0 --dir "$S" session list
[ "$(wc -l <"$T/out")" -eq 4 ] && pass || fail "session list: want 4 lines"
if grep -qEx "s1$TAB$iso$TAB$iso${TAB}3600s$TAB\{\"user\":\"ann\",\"n\":\[1,2\]\}" "$T/out" &&
   grep -qEx "$id$TAB$iso$TAB$iso${TAB}none$TAB\{\}" "$T/out"
then pass; else fail "session list human lines"; fi
t_json --dir "$S" session list --json
py "len(d) == 4 and [s['id'] for s in d] == sorted(s['id'] for s in d)"
py "all(set(s) == {'id', 'data', 'created_at_ms', 'last_accessed_ms', 'ttl_s'} for s in d)"
t 1 --dir "$S" session get "$weird"
t 0 --dir "$S" session new --id "$weird" --data '{"q": "\"\\\u0001"}'
t_json --dir "$S" session list --json
py "[s['data'] for s in d if s['id'] == os.environ['WEIRD']] == [{'q': '\"\\\\\x01'}]"
t 0 --dir "$S" session del "$weird"

snapshot
t 1 --dir "$S" session new --id s1;                  has_err "s1"
t 1 --dir "$S" session new --data '[1]'
t 1 --dir "$S" session new --data 'nope'
t 1 --dir "$S" session new --data '"str"'
t 1 --dir "$S" session new --id "$long"
t 1 --dir "$S" session new --id ''
t 1 --dir "$S" session get nosuch;                   has_err "nosuch"
t 1 --dir "$S" session touch nosuch
t 1 --dir "$S" session del nosuch
t 2 --dir "$S" session new extra
t 2 --dir "$S" session new --ttl;                    has_err "needs a value"
t 2 --dir "$S" session new --ttl abc;                has_err "strata help session new"
t 2 --dir "$S" session new --ttl -5
t 2 --dir "$S" session new --ttl 99999999999999999999
t 2 --dir "$S" session new --bogus
t 2 --dir "$S" session get
t 2 --dir "$S" session get a b
t 2 --dir "$S" session touch
t 2 --dir "$S" session touch s1 --json
t 2 --dir "$S" session del
t 2 --dir "$S" session list x
t 2 --dir "$S" session expire --idle
t 2 --dir "$S" session expire --idle 1.5
t 2 --dir "$S" session expire now
t 2 --dir "$S" session frob
unchanged "failed session commands"

t_out 0 "" --dir "$S" session del s2
t 1 --dir "$S" session get s2
t 1 --dir "$S" session del s2

# Expiry, in a store of its own: e1 outlives its own TTL, e2 is idle, e3 was touched.
E="$T/expire"
t 0 --dir "$E" init
t 0 --dir "$E" session new --id e1 --ttl 1
t 0 --dir "$E" session new --id e2
t 0 --dir "$E" session new --id e3
t_out 0 0 --dir "$E" session expire
sleep 2.2
t 0 --dir "$E" session touch e3
t_out 0 1 --dir "$E" session expire                  # e1: its own TTL
t 1 --dir "$E" session get e1
t_out 0 1 --dir "$E" session expire --idle 2         # e2: idle > 2 s; e3 touched
t_json --dir "$E" session list --json;   py "[s['id'] for s in d] == ['e3']"
t_json --dir "$E" session expire --idle 3600 --json;  py "d == {'expired': 0}"
t_out 0 0 --dir "$E" session expire --idle 0         # 0: only per-session TTLs

# ---- stats ----

t 0 --dir "$L" stats
grep -qE '^settings +3$' "$T/out" && grep -qE '^sessions +0$' "$T/out" &&
    grep -qE '^format_version +1$' "$T/out" && pass || fail "stats human output"
t_json --dir "$L" stats --json
py "d['settings'] == 3 and d['sessions'] == 0 and d['format_version'] == 1 and d['lsn'] >= 3"
py "all(isinstance(d[k], int) for k in ('lsn', 'commits', 'group_commits', 'documents', 'contents', 'doc_raw_bytes', 'doc_stored_bytes', 'segments', 'segment_bytes', 'operational_bytes', 'total_bytes'))"
t 2 --dir "$L" stats extra
t 2 --dir "$L" stats --ttl 5;            has_err "unknown option"

# ---- write errors on stdout ----

if [ -w /dev/full ]; then
    for args in "setting list" "setting list --json" "setting get theme" "session list" \
                "session list --json" "stats" "stats --json" "help" "--version"; do
        last="strata --dir S $args > /dev/full"
        # shellcheck disable=SC2086
        "$CLI" --dir "$S" $args >/dev/full 2>"$T/err"; rc=$?
        [ "$rc" -eq 1 ] && grep -q "standard output" "$T/err" && pass ||
            fail "a failed write to stdout must exit 1"
    done
    # A list longer than stdio's buffer fails while walking, not only at the end.
    for i in $(seq 200); do printf 'setting set bulk%03d "%0100d"\n' "$i" 0; done >"$T/bulk"
    while read -r _ _ k v; do "$CLI" --dir "$L" setting set "$k" "$v" || break; done <"$T/bulk"
    last="setting list (long) > /dev/full"
    "$CLI" --dir "$L" setting list >/dev/full 2>"$T/err"; rc=$?
    [ "$rc" -eq 1 ] && pass || fail "a long list to /dev/full must exit 1"
    t 0 --dir "$L" stats      # the store is still fine
else
    echo "skip: /dev/full is not writable here"
fi

finish

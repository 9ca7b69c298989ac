#!/usr/bin/env bash
# cli_docs.sh — the contract of the document commands of `strata` (issue 3):
# doc put|get|meta|del|list|train-dict, import, check, compact and the document
# fields of stats. Byte-exact round trips (empty, binary, 5 MiB, stdin), -o, meta
# fields against sha256sum, list filters, import of a generated tree (nested
# directories, symlinks, a FIFO, ids that are too long), check before and after a
# flipped byte, compaction after deletes, usage errors (2) and failures (1).
# Run by CTest with STRATA_CLI set to the binary; prints "N passed, N failed".
set -u

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"     # the shared preamble and helpers
need_cli
need python3
need sha256sum
workdir strata-cli-docs

# ---- helpers (pass, fail, run, t, t_out, t_json, py, has_out, has_err, full_fails,
# stat_field and flip: lib.sh; fail caps stdout at 400 bytes); every check prints
# what went wrong and goes on ----

# run_in FILE ARGS...: like run, with stdin from FILE.
run_in() {
    local in=$1; shift
    last="strata $* < $in"
    "$CLI" "$@" >"$T/out" 2>"$T/err" <"$in"
    rc=$?
}
quiet() { if [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; then pass; else fail "unexpected output"; fi; }
# same FILE: the last stdout is byte-identical to FILE.
same() { if cmp -s "$1" "$T/out"; then pass; else fail "stdout differs from $1"; fi; }
# ids DIR ARGS...: `doc list --json` as one id per line (for comparisons).
ids() {
    local d=$1; shift
    "$CLI" --dir "$d" doc list --json "$@" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)))'
}

# ---- help for every new command ----

for c in doc "doc put" "doc get" "doc meta" "doc del" "doc list" "doc train-dict" \
         import check compact; do
    # shellcheck disable=SC2086
    t 0 help $c;        has_out "usage: strata"
    # shellcheck disable=SC2086
    t 0 $c --help;      has_out "usage: strata"
done
t 0 help doc put;       for f in --meta --filename --json; do has_out "$f"; done
t 0 help doc get;       has_out "-o FILE"
t 0 help doc list;      for f in --prefix --where --json; do has_out "$f"; done
t 0 help import;        for f in --meta --batch "imported N files"; do has_out "$f"; done
t 0 help compact;       has_out "--threshold"
t 0 help stats;         has_out "segment_bytes"
t 0 help;               for c in "doc put" "doc get" "doc meta" "doc del" "doc list" \
                                 "doc train-dict" "import DIR" "check" "compact"; do has_out "$c"; done

# ---- usage errors (exit 2), before and after a store exists ----

t 2 doc;                                    has_err "missing command"
t 2 doc frob;                               has_err "unknown command"
t 2 --dir "$S" doc put;                     has_err "missing argument"
t 2 --dir "$S" doc put a b c;               has_err "unexpected argument"
t 2 --dir "$S" doc put a --meta;            has_err "needs a value"
t 2 --dir "$S" doc get
t 2 --dir "$S" doc get a b
t 2 --dir "$S" doc get a -o
t 2 --dir "$S" doc get a --json;            has_err "unknown option"
t 2 --dir "$S" doc meta
t 2 --dir "$S" doc del
t 2 --dir "$S" doc del a b
t 2 --dir "$S" doc list x
t 2 --dir "$S" doc list --bogus
t 2 --dir "$S" doc train-dict x
t 2 --dir "$S" import
t 2 --dir "$S" import a b
t 2 --dir "$S" check x
t 2 --dir "$S" compact x
[ ! -e "$S" ] && pass || fail "a usage error created the store"

# Commands on a missing store fail (1) and do not create it.
t 1 --dir "$S" doc list;                    has_err "strata init"
t 1 --dir "$S" check
t 1 --dir "$S" import "$T"
[ ! -e "$S" ] && pass || fail "a failed command created the store"

t 0 --dir "$S" init

t 2 --dir "$S" doc list --where 'novalue';  has_err "PATH=JSON"
t 2 --dir "$S" doc list --where '="x"'
t 2 --dir "$S" import . --batch 0;          has_err "--batch"
t 2 --dir "$S" import . --batch x
t 2 --dir "$S" import . --batch -1
t 2 --dir "$S" compact --threshold 1.5;     has_err "--threshold"
t 2 --dir "$S" compact --threshold abc
t 2 --dir "$S" compact --threshold ''
t 2 --dir "$S" compact --threshold nan

# ---- round trips ----

: >"$T/empty"
printf 'a\0b\377\376\0\n\r\0end\377' >"$T/bin"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 64)' >>"$T/bin"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$T/big"
printf 'hello, documents\n' >"$T/small.txt"

t_out 0 "" --dir "$S" doc put empty "$T/empty";           quiet
t_out 0 "" --dir "$S" doc put bin "$T/bin"
t_out 0 "" --dir "$S" doc put big "$T/big"
t_out 0 "" --dir "$S" doc put small "$T/small.txt" --meta '{"lang":"en","n":1}'
for id in empty bin big; do
    t 0 --dir "$S" doc get "$id";   same "$T/$id"
done
t 0 --dir "$S" doc get small;       same "$T/small.txt"
[ ! -s "$T/err" ] && pass || fail "doc get wrote to stderr"

# stdin: FILE absent, and FILE "-"
run_in "$T/bin" --dir "$S" doc put stdin1
[ "$rc" -eq 0 ] && pass || fail "doc put ID < FILE"
run_in "$T/big" --dir "$S" doc put stdin2 -
[ "$rc" -eq 0 ] && pass || fail "doc put ID - < FILE"
last="cat big | strata doc put stdin3 -"
cat "$T/big" | "$CLI" --dir "$S" doc put stdin3 - >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 0 ] && pass || fail "doc put from a pipe"
t 0 --dir "$S" doc get stdin1;      same "$T/bin"
t 0 --dir "$S" doc get stdin2;      same "$T/big"
t 0 --dir "$S" doc get stdin3;      same "$T/big"
run_in "$T/empty" --dir "$S" doc put stdin-empty
t 0 --dir "$S" doc get stdin-empty; same "$T/empty"

# -o FILE: the content, and no temporary file left behind.
mkdir "$T/o"
t_out 0 "" --dir "$S" doc get big -o "$T/o/big.out"
cmp -s "$T/big" "$T/o/big.out" && pass || fail "doc get -o: content differs"
t 0 --dir "$S" doc get bin -o "$T/o/big.out"      # replaces an existing file
cmp -s "$T/bin" "$T/o/big.out" && pass || fail "doc get -o over an existing file"
t 0 --dir "$S" doc get empty -o "$T/o/empty.out"
[ -f "$T/o/empty.out" ] && [ ! -s "$T/o/empty.out" ] && pass || fail "doc get -o of an empty document"
t 0 --dir "$S" doc get small -o -;  same "$T/small.txt"   # -o - is stdout
echo precious >"$T/o/keep"
t 1 --dir "$S" doc get nosuch -o "$T/o/keep";     has_err "nosuch"
[ "$(cat "$T/o/keep")" = precious ] && pass || fail "a failed get -o replaced FILE"
t 1 --dir "$S" doc get nosuch -o "$T/o/new"
[ ! -e "$T/o/new" ] && pass || fail "a failed get -o created FILE"
t 1 --dir "$S" doc get big -o "$T/nodir/x"
[ "$(ls "$T/o" | sort | tr '\n' ' ')" = "big.out empty.out keep " ] && pass ||
    fail "doc get -o left files behind: $(ls "$T/o")"

# ---- meta ----

t_json --dir "$S" doc meta big --json
sum=$(sha256sum "$T/big" | cut -d' ' -f1)
size=$(stat -c %s "$T/big")
py "d['id'] == 'big' and d['size'] == $size and d['sha256'] == '$sum'"
py "d['filename'] == 'big' and d['metadata'] == {} and d['tier'] in ('warm', 'cold')"
py "isinstance(d['stored_size'], int) and d['stored_size'] > 0 and d['codec'] in ('raw','lz4','lz4+dict','zstd','zstd+dict')"
py "d['created_at_ms'] > 1500000000000 and d['updated_at_ms'] >= d['created_at_ms'] and d['lsn'] > 0"
py "set(d) == {'id','filename','size','stored_size','codec','tier','segment','sha256','created_at_ms','updated_at_ms','last_access_ms','lsn','metadata'}"
t_json --dir "$S" doc meta bin --json
py "d['size'] == $(stat -c %s "$T/bin") and d['sha256'] == '$(sha256sum "$T/bin" | cut -d' ' -f1)'"
t_json --dir "$S" doc meta small --json;     py "d['metadata'] == {'lang': 'en', 'n': 1} and d['filename'] == 'small.txt'"
t_json --dir "$S" doc meta stdin1 --json;    py "d['filename'] is None"
t_json --dir "$S" doc meta empty --json
py "d['size'] == 0 and d['sha256'] == 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'"
t 0 --dir "$S" doc meta small
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
grep -qx "id  *small" "$T/out" && grep -qx "filename  *small.txt" "$T/out" &&
    grep -qx "size  *17" "$T/out" && grep -qEx "created +$iso" "$T/out" &&
    grep -qEx "updated +$iso" "$T/out" && grep -qEx "last_access +($iso|never)" "$T/out" &&
    grep -qx "sha256  *$(sha256sum "$T/small.txt" | cut -d' ' -f1)" "$T/out" &&
    grep -qx 'metadata  *{"lang":"en","n":1}' "$T/out" && grep -qEx 'lsn +[0-9]+' "$T/out" &&
    grep -qEx 'codec +[a-z0-9+]+' "$T/out" && grep -qEx 'stored_size +[0-9]+' "$T/out" &&
    pass || fail "doc meta human output"
t 1 --dir "$S" doc meta nosuch;             has_err "nosuch"
t 0 --dir "$S" doc put named "$T/small.txt" --filename 'orig name.txt'
t_json --dir "$S" doc meta named --json;     py "d['filename'] == 'orig name.txt'"
t_json --dir "$S" doc put withjson "$T/small.txt" --json
py "d['id'] == 'withjson' and d['size'] == 17 and d['sha256'] == '$(sha256sum "$T/small.txt" | cut -d' ' -f1)' and d['lsn'] > 0"

# A put replaces: new content, new metadata.
t 0 --dir "$S" doc put small "$T/bin" --meta '{"lang":"de"}'
t 0 --dir "$S" doc get small;               same "$T/bin"
t_json --dir "$S" doc meta small --json;     py "d['metadata'] == {'lang': 'de'}"
t 0 --dir "$S" doc put small "$T/small.txt" --meta '{"lang":"en","n":1}'

# ---- failures (exit 1) that store nothing ----

docs_before=$(stat_field documents)
long=$(head -c 1025 /dev/zero | tr '\0' k)
t 1 --dir "$S" doc put "$long" "$T/small.txt";  has_err "1024"
run_in "$T/small.txt" --dir "$S" doc put "$long"
[ "$rc" -eq 1 ] && pass || fail "too-long id from stdin"
t 1 --dir "$S" doc put '' "$T/small.txt"
t 1 --dir "$S" doc put badmeta "$T/small.txt" --meta '[1,2]'
t 1 --dir "$S" doc put badmeta "$T/small.txt" --meta '{"a":'
t 1 --dir "$S" doc put badmeta "$T/small.txt" --meta '"str"'
t 1 --dir "$S" doc put nofile "$T/does-not-exist";  has_err "does-not-exist"
t 1 --dir "$S" doc put adir "$T/o";             has_err "directory"
t 1 --dir "$S" doc get badmeta
t 1 --dir "$S" doc get nofile
t 1 --dir "$S" doc get "$long"
[ "$(stat_field documents)" = "$docs_before" ] && pass || fail "a failed put stored something"
max=$(head -c 1024 /dev/zero | tr '\0' m)
t 0 --dir "$S" doc put "$max" "$T/small.txt"          # 1024 bytes is fine
t 0 --dir "$S" doc get "$max";                       same "$T/small.txt"
t 0 --dir "$S" doc del "$max"

# Missing documents.
t 1 --dir "$S" doc get nosuch;              has_err "not found"
[ ! -s "$T/out" ] && pass || fail "doc get of a missing document wrote to stdout"
t 1 --dir "$S" doc del nosuch

# A failed write to stdout.
if [ -w /dev/full ]; then
    for id in small big empty; do
        last="strata doc get $id > /dev/full"
        "$CLI" --dir "$S" doc get "$id" >/dev/full 2>"$T/err"; rc=$?
        if [ "$id" = empty ]; then
            [ "$rc" -eq 0 ] && pass || fail "an empty document writes nothing, so /dev/full is fine"
        else
            [ "$rc" -eq 1 ] && [ -s "$T/err" ] && pass || fail "doc get > /dev/full must exit 1"
        fi
    done
    for args in "doc list" "doc list --json" "doc meta small" "doc meta small --json" "check"; do
        full_fails "$args"
    done
else
    echo "skip: /dev/full is not writable here"
fi

# ---- del and list ----

L="$T/list"
t 0 --dir "$L" init
t_out 0 "" --dir "$L" doc list
t_out 0 "[]" --dir "$L" doc list --json
for id in b/2 a/1 a/2 a/10 c; do
    t 0 --dir "$L" doc put "$id" "$T/small.txt" --meta "{\"lang\":\"$([ "${id#a/}" != "$id" ] && echo en || echo fr)\",\"id\":\"$id\"}"
done
t 0 --dir "$L" doc put nested "$T/small.txt" --meta '{"lang":"en","tags":{"k":[1,2]}}'
t_out 0 $'a/1\na/10\na/2\nb/2\nc\nnested' --dir "$L" doc list
t_json --dir "$L" doc list --json;          py "d == ['a/1', 'a/10', 'a/2', 'b/2', 'c', 'nested']"
t_out 0 $'a/1\na/10\na/2' --dir "$L" doc list --prefix a/
t_out 0 $'a/1\na/10' --dir "$L" doc list --prefix a/1
t_out 0 "" --dir "$L" doc list --prefix zzz
t_out 0 $'a/1\na/10\na/2\nnested' --dir "$L" doc list --where '$.lang="en"'
t_out 0 $'b/2\nc' --dir "$L" doc list --where='$.lang="fr"'
t_out 0 'a/2' --dir "$L" doc list --where '$.id="a/2"'
t_out 0 'a/2' --dir "$L" doc list --where '$.lang="en"' --prefix a/2
t_out 0 'nested' --dir "$L" doc list --where '$.tags.k[1]=2'
t_out 0 "" --dir "$L" doc list --where '$.lang="xx"'
t_json --dir "$L" doc list --where '$.lang="fr"' --json;   py "d == ['b/2', 'c']"
t 1 --dir "$L" doc list --where 'lang="en"'              # a path starts with $
t 1 --dir "$L" doc list --where '$.lang=en'              # the value is JSON
t_out 0 "" --dir "$L" doc del a/10
t_out 0 $'a/1\na/2' --dir "$L" doc list --prefix a/
t 1 --dir "$L" doc get a/10
t 1 --dir "$L" doc del a/10
# Ids with control bytes and bytes that are not UTF-8: escaped in human output.
t 0 --dir "$L" doc put $'tab\there' "$T/small.txt"
t 0 --dir "$L" doc put $'bad\xffbyte' "$T/small.txt"
t 0 --dir "$L" doc put 'café' "$T/small.txt"
t 0 --dir "$L" doc list
has_out 'tab\x09here'; has_out 'bad\xffbyte'; has_out 'café'
[ "$(wc -l <"$T/out")" -eq 8 ] && pass || fail "doc list: one line per id"
t_json --dir "$L" doc list --json;          py "'tab\there' in d and 'café' in d and len(d) == 8"
t 0 --dir "$L" doc get $'bad\xffbyte';      same "$T/small.txt"

# ---- import ----

TR="$T/tree"
mkdir -p "$TR/a/b/c" "$TR/empty-dir" "$TR/d e"
printf 'top\n' >"$TR/top.txt"
printf 'one\n' >"$TR/a/one.txt"
printf 'deep\n' >"$TR/a/b/c/deep.txt"
cp "$T/bin" "$TR/a/b/bin"
cp "$T/big" "$TR/d e/big file"
: >"$TR/a/zero"
printf 'dup\n' >"$TR/a/dup1"
printf 'dup\n' >"$TR/a/dup2"
ln -s a/one.txt "$TR/link-to-file"
ln -s a "$TR/link-to-dir"
ln -s /etc/passwd "$TR/a/link-out"
mkfifo "$TR/a/fifo"
want_ids=$'a/b/bin\na/b/c/deep.txt\na/dup1\na/dup2\na/one.txt\na/zero\nd e/big file\ntop.txt'
I="$T/imp"
t 0 --dir "$I" init
t 0 --dir "$I" import "$TR" --meta '{"source":"tree"}'
grep -qE '^imported 8 files, [0-9]+\.[0-9] MB in [0-9]+\.[0-9]+ s \([0-9]+\.[0-9] MB/s\); stored -?[0-9]+\.[0-9] MB \(-?[0-9]+\.[0-9]% of raw\)$' "$T/out" &&
    [ "$(wc -l <"$T/out")" -eq 1 ] && pass || fail "import summary line"
has_err "skipped 3 symlinks and 1 other non-regular file"
[ "$(ids "$I")" = "$want_ids" ] && pass || fail "imported ids: $(ids "$I" | tr '\n' ' ')"
t 0 --dir "$I" doc get 'd e/big file';      same "$T/big"
t 0 --dir "$I" doc get a/b/bin;             same "$T/bin"
t 0 --dir "$I" doc get a/zero;              same "$T/empty"
t_json --dir "$I" doc meta a/b/c/deep.txt --json
py "d['filename'] == 'deep.txt' and d['metadata'] == {'source': 'tree'} and d['size'] == 5"
t_json --dir "$I" stats --json
py "d['documents'] == 8 and d['contents'] == 7"          # dup1 and dup2 share content
t_out 0 'a/b/c/deep.txt' --dir "$I" doc list --prefix a/b/c
t 0 --dir "$I" check;                      has_out "ok"
# Again, in batches of 3: the same ids; identical content is stored once; one
# commit (LSN) per batch: 8 files in batches of 3 are 3 commits, by default 1.
seg_before=$(stat_field segment_bytes "$I")
lsn0=$(stat_field lsn "$I")
t 0 --dir "$I" import "$TR" --batch 3
lsn1=$(stat_field lsn "$I")
[ $((lsn1 - lsn0)) -eq 3 ] && pass || fail "--batch 3 on 8 files: $((lsn1 - lsn0)) commits, want 3"
has_out "imported 8 files"; has_out "stored 0.0 MB"
[ "$(ids "$I")" = "$want_ids" ] && pass || fail "re-import changed the ids"
t_json --dir "$I" stats --json;            py "d['documents'] == 8 and d['contents'] == 7"
[ "$(stat_field segment_bytes "$I")" = "$seg_before" ] && pass || fail "re-import appended content"
t_json --dir "$I" doc meta top.txt --json; py "d['metadata'] == {}"   # replaced without --meta
lsn1=$(stat_field lsn "$I")
t 0 --dir "$I" import "$TR"
[ $(( $(stat_field lsn "$I") - lsn1 )) -eq 1 ] && pass || fail "default batch: want one commit for 8 files"
# A subdirectory as DIR: ids are relative to it.
I2="$T/imp2"
t 0 --dir "$I2" init
t 0 --dir "$I2" import "$TR/a/b"
[ "$(ids "$I2")" = $'bin\nc/deep.txt' ] && pass || fail "ids relative to DIR"
t 0 --dir "$I2" import "$TR/empty-dir";    has_out "imported 0 files"
# DIR given as a symlink is followed (it was named); below it nothing is.
t 0 --dir "$I2" import "$TR/link-to-dir";  has_out "imported 6 files"
# Failures: a path too long for an id (> 1024 bytes) fails, the rest goes on, exit 1.
F="$TR/fail"
p=$(head -c 250 /dev/zero | tr '\0' x)
mkdir -p "$F/$p/$p/$p/$p/$p"
echo long >"$F/$p/$p/$p/$p/$p/file"
echo fine >"$F/fine"
t 1 --dir "$I2" import "$F";               has_out "imported 1 file,"; has_err "1 file failed"
has_err "longer than 1024"
t 0 --dir "$I2" doc get fine
if [ "$(id -u)" -ne 0 ]; then     # root reads through chmod 000
    echo secret >"$F/unreadable"; chmod 000 "$F/unreadable"
    t 1 --dir "$I2" import "$F";           has_err "unreadable"; has_err "2 files failed"
    chmod 600 "$F/unreadable"
fi
rm -rf "$F"
t 1 --dir "$I2" import "$T/does-not-exist"
t 1 --dir "$I2" import "$T/small.txt"
t 1 --dir "$I2" import "$TR" --meta '[1]';  has_err "JSON object"
t 1 --dir "$I2" import "$TR" --meta 'nope'
t 1 --dir "$I2" import "$I2";               has_err "store itself"
# The store inside DIR is never imported into itself.
mkdir -p "$T/outer/sub" && echo x >"$T/outer/sub/x" && echo y >"$T/outer/y"
t 0 --dir "$T/outer/store" init
t 0 --dir "$T/outer/store" import "$T/outer"
[ "$(ids "$T/outer/store")" = $'sub/x\ny' ] && pass || fail "import read the store itself"
# Progress goes to stderr only on a terminal: here stderr is a file.
t 0 --dir "$I2" import "$TR/a"
grep -q $'\r' "$T/err" && fail "progress written to a non-terminal" || pass
if command -v script >/dev/null; then
    last="script: strata import (stderr on a terminal)"
    script -qec "'$CLI' --dir '$I2' import '$TR' 2>&1" /dev/null >"$T/out" 2>"$T/err" </dev/null; rc=$?
    [ "$rc" -eq 0 ] && grep -q 'MB/s' "$T/out" && grep -q 'files' "$T/out" &&
        grep -q 'imported 8 files' "$T/out" && pass || fail "progress on a terminal"
fi

# ---- check: clean, then a flipped byte ----

C="$T/check"
t 0 --dir "$C" init
t 0 --dir "$C" check;                        has_out "ok: 0 documents"
t 0 --dir "$C" doc put keep "$T/small.txt"
t 0 --dir "$C" doc put victim "$T/bin"
t_out 0 "ok: 2 documents (2 distinct contents), 1 segment checked" --dir "$C" check
t_json --dir "$C" check --json;              py "d['ok'] is True and d['problems'] == [] and d['documents'] == 2"
seg=$(ls "$C"/docs/seg-*.dat | tail -n 1)
flip "$seg" -10                               # inside victim's record, the last one
t 1 --dir "$C" check
grep -qi "segment" "$T/out" && [ -s "$T/out" ] && pass || fail "check names the problem"
has_err "problem"
run --dir "$C" check --json
[ "$rc" -eq 1 ] && python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] is False and d["problems"]' <"$T/out" 2>/dev/null &&
    pass || fail "check --json with problems"
t 1 --dir "$C" doc get victim;               has_err "corrupt"
t 1 --dir "$C" doc get victim -o "$T/victim.out"
[ ! -e "$T/victim.out" ] && pass || fail "a corrupt get left a file"
[ -z "$(ls "$T" | grep victim)" ] && pass || fail "a corrupt get left a temporary file"
t 0 --dir "$C" doc get keep;                 same "$T/small.txt"   # the rest stays readable
flip "$seg" -10                               # put it back
t 0 --dir "$C" check

# ---- compact ----

K="$T/compact"
t 0 --dir "$K" init
for i in 1 2 3 4; do
    head -c 300000 /dev/urandom >"$T/r$i"
    t 0 --dir "$K" doc put "r$i" "$T/r$i"
done
# The first compaction re-encodes the fresh segment once; a second has nothing to do.
t_json --dir "$K" compact --json;    py "d['contents_dropped'] == 0 and d['bytes_after'] <= d['bytes_before']"
t_json --dir "$K" compact --json;    py "d['segments_rewritten'] == 0 and d['contents_dropped'] == 0"
seg_before=$(stat_field segment_bytes "$K")
t 0 --dir "$K" doc del r1
t 0 --dir "$K" doc del r3
[ "$(stat_field segment_bytes "$K")" = "$seg_before" ] && pass || fail "delete alone changed the segments"
t 0 --dir "$K" compact
grep -qE '^segments_rewritten +[1-9]' "$T/out" && grep -qE '^contents_dropped +2$' "$T/out" &&
    grep -qE '^bytes_reclaimed +[1-9]' "$T/out" && pass || fail "compact human output"
seg_after=$(stat_field segment_bytes "$K")
[ "$seg_after" -lt $((seg_before - 500000)) ] && pass ||
    fail "compact did not shrink segment_bytes ($seg_before -> $seg_after)"
t 0 --dir "$K" doc get r2;           same "$T/r2"
t 0 --dir "$K" doc get r4;           same "$T/r4"
t 1 --dir "$K" doc get r1
t 0 --dir "$K" check
# The deleted bytes are gone from every file of the store.
last="grep deleted content in the store's files"
python3 - "$K" "$T/r1" <<'EOF' && pass || fail "deleted content still in the store's files"
import os, sys
needle = open(sys.argv[2], 'rb').read()[1000:1064]
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if needle in open(os.path.join(root, f), 'rb').read():
            sys.exit(1)
EOF
t_json --dir "$K" compact --threshold 0.5 --json
py "set(d) == {'segments_rewritten','bytes_before','bytes_after','bytes_reclaimed','contents_moved','contents_dropped'}"
t 0 --dir "$K" compact --threshold=1

# ---- train-dict ----

D="$T/dict"
t 0 --dir "$D" init
t 1 --dir "$D" doc train-dict                  # nothing to train on
# Enough text to train on (the library wants a sample of at least 256 KiB).
mkdir "$T/dictsrc"
python3 - "$T/dictsrc" <<'EOF'
import os, random, sys
random.seed(7)
words = ("licence copyright permission software distribute modify warranty notice "
         "conditions redistribution source binary form provided holders contributors "
         "merchantability fitness purpose liability damages").split()
for i in range(300):
    text = " ".join(random.choice(words) for _ in range(220))
    with open(os.path.join(sys.argv[1], "dict%d" % i), "w") as f:
        f.write("Record %d.\n%s\n" % (i, text))
EOF
t 0 --dir "$D" import "$T/dictsrc"
t 0 --dir "$D" doc train-dict
grep -qEx '[0-9]+' "$T/out" && pass || fail "train-dict prints an id"
t_json --dir "$D" doc train-dict --json;      py "isinstance(d['dict_id'], int)"
t 0 --dir "$D" doc put after "$T/dictsrc/dict5"
t 0 --dir "$D" doc get after;                 same "$T/dictsrc/dict5"
t 0 --dir "$D" doc get dict7;                 same "$T/dictsrc/dict7"
t 0 --dir "$D" check

# ---- stats ----

t 0 --dir "$I" stats
for f in documents contents doc_raw_bytes doc_stored_bytes segments segment_bytes; do
    grep -qE "^$f +[0-9]+$" "$T/out" && pass || fail "stats lacks $f"
done
t_json --dir "$I" stats --json
py "d['documents'] == 8 and d['contents'] == 7 and d['segments'] >= 1"
py "d['doc_raw_bytes'] == $(( $(stat -c %s "$T/big") + $(stat -c %s "$T/bin") + 4 + 5 + 4 + 4 + 4 ))"
py "0 < d['doc_stored_bytes'] <= d['segment_bytes'] <= d['total_bytes']"

finish

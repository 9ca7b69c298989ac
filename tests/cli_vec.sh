#!/usr/bin/env bash
# cli_vec.sh — the contract of `strata vec create|list|info|drop|add|search` and of
# `strata import --embed hash` (issue 7): collections created, listed, described and
# dropped; usage errors (2) against failures (1), bad names being the library's
# (1); vectors added from .fvecs, .npy (headers written by hand, versions 1 and 2)
# and JSON lines generated with python3, by extension and by content, from stdin,
# with --ids; a mismatched id count, a NaN row or a row of the wrong dimension
# exits 1 and stores nothing of its batch (a 1500-row file keeps its first batch of
# 1000); malformed NPY headers are refused; searches by --vector (a stored vector
# finds itself, cosine score ~1), --doc, --text, --exact and --file (JSON lines,
# one per query); --json outputs parse; import --embed creates the collection,
# skips documents without words and makes the document findable by --text; a
# document delete removes its vector; `strata check` is clean at the end.
# Run by CTest with STRATA_CLI set to the binary; prints "N passed, N failed".
set -u

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"     # the shared preamble and helpers
need_cli
need python3
workdir strata-cli-vec
PY_IMPORTS=json,sys            # py's expression sees json and sys only (no os)

# ---- helpers (pass, fail, run, t, t_json, py, has_out, has_err, no_out and
# full_fails: lib.sh; fail caps stdout at 400 bytes); every check prints what went
# wrong and goes on ----

# pylines EXPR: EXPR holds for L, the list of JSON documents, one per stdout line.
pylines() {
    if python3 -c "import json,sys; L=[json.loads(l) for l in sys.stdin]; assert ($1), L" <"$T/out" 2>/dev/null
    then pass; else fail "JSON lines check: $1"; fi
}
# first_id: the id on the first line of human search output ("RANK  SCORE  ID").
first_id() { sed -n '1p' "$T/out" | awk '{print $3}'; }
first_score() { sed -n '1p' "$T/out" | awk '{print $2}'; }
# count NAME: vectors in collection NAME.
count() {
    "$CLI" --dir "$S" vec info "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['count'])"
}
is_count() {
    local got
    got=$(count "$1")
    if [ "$got" = "$2" ]; then pass; else fail "collection $1 holds $got vectors, want $2"; fi
}
is() { if [ "$1" = "$2" ]; then pass; else fail "got '$1', want '$2'"; fi; }

# ---- data: vectors generated with a seed, written in every format ----

python3 - <<'EOF' || exit 2
import json, math, random, struct

def npy(path, rows, dim, descr="<f4", fortran="False", shape=None, version=1, data=None, cut=0):
    shape = shape if shape is not None else "(%d, %d)" % (rows and len(rows), dim)
    hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    pre = 10 if version == 1 else 12
    total = pre + len(hdr) + 1
    hdr += " " * ((64 - total % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]))
        f.write(struct.pack("<H" if version == 1 else "<I", len(hdr)))
        f.write(hdr.encode("latin1"))
        body = data if data is not None else b"".join(struct.pack("<%df" % dim, *r) for r in rows)
        f.write(body[:len(body) - cut])

def fvecs(path, rows):
    with open(path, "wb") as f:
        for r in rows:
            f.write(struct.pack("<i", len(r)) + struct.pack("<%df" % len(r), *r))

def jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")

random.seed(7)
D = 8
rows = [[round(random.uniform(-1, 1), 6) for _ in range(D)] for _ in range(50)]
json.dump(rows, open("rows.json.data", "w"))
fvecs("a.fvecs", rows)
npy("a.npy", rows, D)
npy("a2.npy", rows, D, version=2)
jsonl("a.jsonl", rows)
with open("ids.txt", "w") as f:
    f.write("".join("doc-%d\n" % i for i in range(50)))
with open("ids49.txt", "w") as f:
    f.write("".join("doc-%d\n" % i for i in range(49)))
with open("ids51.txt", "w") as f:
    f.write("".join("doc-%d\n" % i for i in range(51)))
with open("ids-empty-line.txt", "w") as f:
    f.write("".join(("doc-%d\n" % i) if i != 7 else "\n" for i in range(50)))
fvecs("noext", rows)                       # format by content: fvecs
jsonl("queries", rows[:5])                  # format by content: JSON lines
jsonl("q5.jsonl", rows[:5])
fvecs("q5.fvecs", rows[:5])

# Bad rows: NaN in row 10 (each format), a short row, Infinity.
bad = [r[:] for r in rows]
bad[10][3] = float("nan")
jsonl("nan.jsonl", bad)                     # json.dumps writes NaN
fvecs("nan.fvecs", bad)
npy("nan.npy", bad, D)
short = [r[:] for r in rows]
short[3] = short[3][:5]
jsonl("short.jsonl", short)
fvecs("short.fvecs", short)
inf = [r[:] for r in rows]
inf[4][0] = float("inf")
fvecs("inf.fvecs", inf)
with open("garbage.jsonl", "w") as f:
    f.write("[1, 2, 3, 4, 5, 6, 7, 8]\n[1, 2, oops]\n")
with open("nested.jsonl", "w") as f:
    f.write(json.dumps(rows[:3]) + "\n")

# Batches: 1500 rows of dim 4, NaN at row 1200: the first 1000 stay.
random.seed(11)
big = [[random.uniform(-1, 1) for _ in range(4)] for _ in range(1500)]
big[1200][1] = float("nan")
jsonl("big-nan.jsonl", big)
big[1200][1] = 0.5
fvecs("big.fvecs", big)

# NPY headers that must be refused.
npy("f8.npy", rows, D, descr="<f8", data=b"".join(struct.pack("<8d", *r) for r in rows))
npy("be.npy", rows, D, descr=">f4", data=b"".join(struct.pack(">8f", *r) for r in rows))
npy("fortran.npy", rows, D, fortran="True")
npy("onedim.npy", rows, D, shape="(400,)")
npy("wrongdim.npy", rows, D, shape="(100, 4)")
npy("trunc.npy", rows, D, cut=7)
npy("v9.npy", rows, D, version=9)
with open("nomagic.npy", "wb") as f:
    f.write(b"NUMPY? no" * 10)
with open("extra-key.npy", "wb") as f:
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (50, 8), 'x': 1, }"
    hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(b"".join(struct.pack("<8f", *r) for r in rows))
with open("unknown.bin", "wb") as f:
    f.write(b"\xff\xff\xff\xff" + b"\x00" * 60)
EOF
ROW7=$(python3 -c 'import json; print(json.dumps(json.load(open("rows.json.data"))[7]))')

# ---- usage errors (2) and failures before a store exists (1) ----

t 2 vec;                                          has_err "missing command"
t 2 vec frob;                                     has_err "unknown command"
t 1 --dir "$S" vec list;                          has_err "strata init"
t 0 --dir "$S" init
t 2 --dir "$S" vec create;                        has_err "missing argument"
t 2 --dir "$S" vec create v;                      has_err "--dim"
t 2 --dir "$S" vec create v --dim 0;              has_err "--dim"
t 2 --dir "$S" vec create v --dim abc
t 2 --dir "$S" vec create v --dim 16385
t 2 --dir "$S" vec create v --dim;                has_err "needs a value"
t 2 --dir "$S" vec create v --dim 4 --metric dot; has_err "cosine|ip|l2"
t 2 --dir "$S" vec create v --dim 4 --dtype f64;  has_err "f32|f16|i8"
t 2 --dir "$S" vec create v --dim 4 --m x
t 2 --dir "$S" vec create v --dim 4 --ef-construction 0
t 2 --dir "$S" vec create v w --dim 4;            has_err "unexpected argument"
t 2 --dir "$S" vec create v --dim 4 --json;       has_err "unknown option"
t 2 --dir "$S" vec list extra
t 2 --dir "$S" vec info
t 2 --dir "$S" vec drop
t 2 --dir "$S" vec add v;                         has_err "missing argument"
t 2 --dir "$S" vec add v a.jsonl --ids;           has_err "needs a value"
t 2 --dir "$S" vec search v;                      has_err "one of --vector"
t 2 --dir "$S" vec search v --doc 1 --text x;     has_err "only one"
t 2 --dir "$S" vec search v --doc 1 -k 0;         has_err "-k"
t 2 --dir "$S" vec search v --doc 1 -k 10001
t 2 --dir "$S" vec search v --doc 1 --ef x
t 2 --dir "$S" import . --embed bert --collection c --dim 4;  has_err "hash"
t 2 --dir "$S" import . --embed hash;                         has_err "--collection"
t 2 --dir "$S" import . --collection c --dim 4;               has_err "--embed"
t 2 --dir "$S" import . --embed hash --collection c --dim 0
# No usage error above created anything.
t 0 --dir "$S" vec list;                          no_out

# ---- create, list, info, drop ----

t 0 --dir "$S" vec create v --dim 8;              no_out
t 1 --dir "$S" vec create v --dim 8;              has_err "strata: vec create 'v': "
t 1 --dir "$S" vec create 'bad name' --dim 8;     has_err "[A-Za-z0-9_-]"
t 1 --dir "$S" vec create "$(printf 'x%.0s' {1..65})" --dim 8
t 1 --dir "$S" vec create '' --dim 8
t 1 --dir "$S" vec create w --dim 8 --m 1;        has_err "out of range"
t 0 --dir "$S" vec create c2 --dim 16 --metric l2 --dtype f16 --m 8 --ef-construction 100
t 0 --dir "$S" vec list;                          has_out "c2  dim 16  l2  f16  0 vectors"; has_out "v  dim 8  cosine  f32"
t_json --dir "$S" vec list --json
py '[c["name"] for c in d] == ["c2", "v"]'
py 'd[0]["m"] == 8 and d[0]["ef_construction"] == 100 and d[0]["dtype"] == "f16" and d[0]["metric"] == "l2"'
t_json --dir "$S" vec info c2 --json
py 'set(d) == {"name","dim","metric","dtype","m","ef_construction","count","index_bytes","log_bytes","created_at_ms","kernels"}'
py 'd["dim"] == 16 and d["count"] == 0 and d["created_at_ms"] > 0 and d["kernels"] in ("scalar","avx2","avx512")'
t 0 --dir "$S" vec info v
for f in name dim metric dtype m ef_construction count index_bytes log_bytes created kernels; do
    has_out "$f "
done
t 0 --dir "$S" vec drop c2;                       no_out
t 1 --dir "$S" vec drop c2;                       has_err "c2"
t 1 --dir "$S" vec info c2
t 0 --dir "$S" vec list;                          has_out "v  dim 8"
if grep -q c2 "$T/out"; then fail "c2 still listed"; else pass; fi
t 1 --dir "$S" vec info 'bad name'

# ---- add: every format, by extension and by content ----

t 0 --dir "$S" vec add v a.fvecs;                 has_out "added 50 vectors (fvecs) to 'v'"; has_out "vectors/s"
is_count v 50
t 0 --dir "$S" vec create n --dim 8
t 0 --dir "$S" vec add n a.npy;                   has_out "added 50 vectors (npy)"
is_count n 50
t 0 --dir "$S" vec add n a2.npy;                  has_out "added 50 vectors (npy)"   # version 2 header
is_count n 50                                                                       # same ids replaced
t 0 --dir "$S" vec create j --dim 8
t 0 --dir "$S" vec add j a.jsonl;                 has_out "added 50 vectors (JSON lines)"
is_count j 50
t 0 --dir "$S" vec create x --dim 8
t 0 --dir "$S" vec add x noext;                   has_out "(fvecs)"
t 0 --dir "$S" vec add x queries;                 has_out "added 5 vectors (JSON lines)"
is_count x 50
last="strata vec add x - < a.npy"
"$CLI" --dir "$S" vec add x - <a.npy >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 0 ] && pass || fail "add from stdin"
has_out "added 50 vectors (npy)"
t 1 --dir "$S" vec add nope a.jsonl;              has_err "no collection 'nope'"
t 1 --dir "$S" vec add v missing.fvecs;           has_err "missing.fvecs"
t 1 --dir "$S" vec add v "$T";                    has_err "directory"
t 1 --dir "$S" vec add v unknown.bin;             has_err "cannot tell the format"

# The same data in three formats gives the same neighbours.
for c in v n j; do
    run --dir "$S" vec search "$c" --vector "$ROW7" -k 5 --exact --json
    cp "$T/out" "$T/exact-$c"
done
cmp -s "$T/exact-v" "$T/exact-n" && cmp -s "$T/exact-v" "$T/exact-j" && pass || fail "fvecs, npy and jsonl differ"

# ---- --ids ----

t 0 --dir "$S" vec create ids --dim 8
t 0 --dir "$S" vec add ids a.jsonl --ids ids.txt; has_out "added 50"
t 0 --dir "$S" vec search ids --doc doc-7 -k 1
is "$(first_id)" doc-7
t 1 --dir "$S" vec add ids a.fvecs --ids ids49.txt;  has_err "49 lines"; has_err "50 rows"
t 1 --dir "$S" vec add ids a.npy --ids ids51.txt;    has_err "51 lines"
t 1 --dir "$S" vec add ids a.jsonl --ids ids-empty-line.txt; has_err "line 8 is empty"
t 1 --dir "$S" vec add ids a.jsonl --ids missing.txt
is_count ids 50
# Counts that cannot be known beforehand (a pipe): the mismatch still stores nothing.
last="cat a.jsonl | strata vec add ids - --ids ids49.txt"
cat a.jsonl | "$CLI" --dir "$S" vec add ids - --ids ids49.txt >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 1 ] && pass || fail "stdin with a short ids file must exit 1"
has_err "only 49 lines"; has_err "nothing was stored"
t 0 --dir "$S" vec create ids2 --dim 8
last="cat a.jsonl | strata vec add ids2 - --ids ids51.txt"
cat a.jsonl | "$CLI" --dir "$S" vec add ids2 - --ids ids51.txt >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 1 ] && pass || fail "stdin with a long ids file must exit 1"
has_err "more lines"
is_count ids2 0

# ---- bad rows: exit 1, their row named, nothing of the batch stored ----

t 0 --dir "$S" vec create b --dim 8
t 1 --dir "$S" vec add b nan.jsonl;     has_err "row 10 (line 11)"; has_err "NaN"; has_err "nothing was stored"
t 1 --dir "$S" vec add b nan.fvecs;     has_err "row 10"; has_err "NaN"
t 1 --dir "$S" vec add b nan.npy;       has_err "row 10"
t 1 --dir "$S" vec add b inf.fvecs;     has_err "row 4"; has_err "infinite"
t 1 --dir "$S" vec add b short.jsonl;   has_err "row 3"; has_err "5 components"
t 1 --dir "$S" vec add b short.fvecs;   has_err "row 3"; has_err "dimension 5"
t 1 --dir "$S" vec add b garbage.jsonl; has_err "row 1 (line 2)"; has_err "not a JSON number"
t 1 --dir "$S" vec add b nested.jsonl;  has_err "one array per line"
t 1 --dir "$S" vec add b a.jsonl --ids ids-empty-line.txt
is_count b 0
t 1 --dir "$S" vec add v4 a.jsonl;      has_err "no collection"
t 0 --dir "$S" vec create v4 --dim 4
t 1 --dir "$S" vec add v4 a.jsonl;      has_err "row 0"; has_err "4-dimensional"
t 1 --dir "$S" vec add v4 a.fvecs;      has_err "row 0"
t 1 --dir "$S" vec add v4 a.npy;        has_err "(50, 8)"
is_count v4 0
# Batches of 1000: a NaN at row 1200 keeps rows 0..999, drops 1000..1199.
t 1 --dir "$S" vec add v4 big-nan.jsonl; has_err "row 1200"; has_err "rows 1000..1199"; has_err "1000 vectors"
is_count v4 1000
t 0 --dir "$S" vec add v4 big.fvecs;    has_out "added 1500 vectors"
is_count v4 1500

# ---- NPY headers that are refused, with a reason ----

t 1 --dir "$S" vec add b f8.npy;        has_err "'<f8'"; has_err "'<f4'"
t 1 --dir "$S" vec add b be.npy;        has_err "'>f4'"
t 1 --dir "$S" vec add b fortran.npy;   has_err "Fortran"
t 1 --dir "$S" vec add b onedim.npy;    has_err "1 dimension"
t 1 --dir "$S" vec add b wrongdim.npy;  has_err "(100, 4)"
t 1 --dir "$S" vec add b trunc.npy;     has_err "truncated"
t 1 --dir "$S" vec add b v9.npy;        has_err "version 9"
t 1 --dir "$S" vec add b nomagic.npy;   has_err "magic"
t 1 --dir "$S" vec add b extra-key.npy; has_err "'x'"
is_count b 0

# ---- search ----

t 0 --dir "$S" vec search v --vector "$ROW7" -k 3
is "$(wc -l <"$T/out" | tr -d ' ')" 3
is "$(first_id)" 7
python3 -c "import sys; assert abs(float('$(first_score)') - 1) < 1e-4" && pass || fail "score of itself ~1"
t_json --dir "$S" vec search v --vector "$ROW7" -k 4 --json
py 'len(d) == 4 and d[0]["id"] == "7" and abs(d[0]["score"] - 1) < 1e-4'
py 'all(set(r) == {"id", "score"} for r in d) and [r["score"] for r in d] == sorted((r["score"] for r in d), reverse=True)'
t_json --dir "$S" vec search v --vector "$ROW7" --exact --json
py 'len(d) == 10 and d[0]["id"] == "7"'
t_json --dir "$S" vec search v --vector "$ROW7" --ef 50 -k 50 --json
py 'len(d) == 50 and len(set(r["id"] for r in d)) == 50'
last="strata vec search v --vector - < row7"
echo "$ROW7" | "$CLI" --dir "$S" vec search v --vector - -k 1 >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 0 ] && [ "$(first_id)" = 7 ] && pass || fail "--vector - reads stdin"
t 0 --dir "$S" vec search v --doc 12 -k 2
is "$(first_id)" 12
t_json --dir "$S" vec search v --doc 12 -k 2 --json
py 'd[0]["id"] == "12"'
t 0 --dir "$S" vec search v --text "any words at all" -k 5
is "$(wc -l <"$T/out" | tr -d ' ')" 5
t 1 --dir "$S" vec search v --text "   ";                   has_err "no word"
t 1 --dir "$S" vec search v --doc nosuch;                   has_err "nosuch"
t 1 --dir "$S" vec search v --vector '[1, 2, 3]';           has_err "3 components"; has_err "8-dimensional"
t 1 --dir "$S" vec search v --vector '[1, 2, 3, 4, 5, 6, 7, x]'; has_err "not a JSON number"
t 1 --dir "$S" vec search v --vector '1, 2';                has_err "JSON array"
t 1 --dir "$S" vec search v --vector '[0, 0, 0, 0, 0, 0, 0, 1e39]'; has_err "float32 range"
t 1 --dir "$S" vec search v --vector '[1,2,3,4,5,6,7,8] x'; has_err "after the array"
t 1 --dir "$S" vec search v --doc 1 --ef 999999999
t 1 --dir "$S" vec search nope --vector "$ROW7";            has_err "no collection 'nope'"
t 1 --dir "$S" vec search nope --text "hello"
t 1 --dir "$S" vec search nope --doc 1
t 1 --dir "$S" vec search nope --file q5.jsonl

# --file: one JSON line per query, in order; the same from every format.
for q in q5.jsonl q5.fvecs queries; do
    t 0 --dir "$S" vec search v --file "$q" -k 3
    pylines 'len(L) == 5 and [l["ids"][0] for l in L] == ["0", "1", "2", "3", "4"]'
    pylines 'all(set(l) == {"ids", "scores"} and len(l["ids"]) == 3 == len(l["scores"]) for l in L)'
    pylines 'all(abs(l["scores"][0] - 1) < 1e-4 and l["scores"] == sorted(l["scores"], reverse=True) for l in L)'
done
t 0 --dir "$S" vec search v --file q5.jsonl -k 2 --json
pylines 'len(L) == 5'
t 0 --dir "$S" vec search v --file a.npy -k 1 --exact
pylines 'len(L) == 50 and [l["ids"][0] for l in L] == [str(i) for i in range(50)]'
t 1 --dir "$S" vec search v --file nan.jsonl -k 1;          has_err "row 10"
pylines 'len(L) == 10'
t 1 --dir "$S" vec search v4 --file q5.jsonl;               has_err "4-dimensional"
t 1 --dir "$S" vec search v --file missing.jsonl

# l2 and ip: higher is closer; a stored vector is its own nearest.
t 0 --dir "$S" vec create l2 --dim 8 --metric l2
t 0 --dir "$S" vec add l2 a.jsonl
t_json --dir "$S" vec search l2 --vector "$ROW7" -k 3 --json
py 'd[0]["id"] == "7" and abs(d[0]["score"]) < 1e-4 and d[1]["score"] < 0'
t 0 --dir "$S" vec create i8 --dim 8 --dtype i8
t 0 --dir "$S" vec add i8 a.fvecs
t_json --dir "$S" vec search i8 --vector "$ROW7" -k 1 --json
py 'd[0]["id"] == "7"'

# ---- import --embed hash ----

mkdir -p corpus/licenses
cat >corpus/licenses/gpl.txt <<'EOF'
GNU General Public License: you may redistribute this program and modify it under
the terms of the license published by the Free Software Foundation.
EOF
cat >corpus/fox.txt <<'EOF'
The quick brown fox jumps over the lazy dog near the riverbank.
EOF
cat >corpus/cooking.txt <<'EOF'
Whisk the eggs with sugar, fold in the flour and bake the sponge cake for forty minutes.
EOF
printf ' \n\t\n' >corpus/blank.txt
: >corpus/empty.txt

t 1 --dir "$S" import corpus --embed hash --collection docs;            has_err "--dim"
t 1 --dir "$S" import corpus --embed hash --collection 'bad name' --dim 64
t 1 --dir "$S" import corpus --embed hash --collection v --dim 64;      has_err "8-dimensional"
t 0 --dir "$S" import corpus --embed hash --collection docs --dim 64
has_out "imported 5 files"; has_out "embedded 3 documents into collection 'docs' (dim 64); 2 without a word skipped"
is_count docs 3
t_json --dir "$S" vec info docs --json
py 'd["dim"] == 64 and d["metric"] == "cosine"'
t 0 --dir "$S" vec search docs --text "general public license" -k 3
is "$(first_id)" licenses/gpl.txt
t 0 --dir "$S" vec search docs --text "bake a cake" -k 1
is "$(first_id)" cooking.txt
t_json --dir "$S" vec search docs --text "lazy dogs and foxes" -k 2 --json
py 'd[0]["id"] == "fox.txt"'
t 0 --dir "$S" vec search docs --doc fox.txt -k 1
is "$(first_id)" fox.txt
t 1 --dir "$S" vec search docs --doc blank.txt;                         has_err "no vector"
# Again: the collection exists (--dim may be left out); same ids replaced.
t 0 --dir "$S" import corpus --embed hash --collection docs;            has_out "embedded 3 documents"
t 0 --dir "$S" import corpus --embed hash --collection docs --dim 64
t 1 --dir "$S" import corpus --embed hash --collection docs --dim 32;   has_err "64-dimensional"
is_count docs 3
# A document that loses its words loses its vector; a deleted document too.
printf '   \n' >corpus/cooking.txt
t 0 --dir "$S" import corpus --embed hash --collection docs;            has_out "embedded 2 documents"
is_count docs 2
t 0 --dir "$S" doc del fox.txt
is_count docs 1
t 0 --dir "$S" vec search docs --text "quick brown fox" -k 5
is "$(wc -l <"$T/out" | tr -d ' ')" 1

# ---- help, output errors, and a clean store at the end ----

t 0 help vec;                 has_out "vec search"; has_out "vec add"
t 0 help vec add;             has_out "transactions of 1000"; has_out ".npy"
t 0 help vec search;          has_out "--file"; has_out "JSON lines"
t 0 help import;              has_out "--embed"
t 0 vec create --help;        has_out "--ef-construction"

if [ -w /dev/full ]; then
    for args in "vec list" "vec list --json" "vec info v" "vec search v --doc 1" "vec search v --doc 1 --json" \
                "vec search v --file q5.jsonl"; do
        full_fails "$args"
    done
else
    echo "skip: /dev/full is not writable here"
fi

t 0 --dir "$S" check;         has_out "ok"
t_json --dir "$S" check --json
py 'd["ok"] is True and d["problems"] == []'
# The vectors survive a close and reopen (checkpoint at close).
is_count v4 1500
t 0 --dir "$S" vec search v --vector "$ROW7" -k 1
is "$(first_id)" 7

finish

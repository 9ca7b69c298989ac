#!/usr/bin/env bash
# cli_backup.sh — the contract of `strata backup create|list|verify|restore|prune`
# (issue 6): a store with documents (doc put + import of a generated tree), settings
# and sessions is backed up; list shows the backup good at the store's LSN; verify
# passes; the restore passes check and equals the source (documents byte for byte,
# doc meta, settings and sessions as --json); incremental backups share files;
# restore never replaces a non-empty directory without --force, nor a folder of other
# files or the one that holds the backups even with it; a flipped byte in a copy of
# a backup fails verify; an incomplete folder is listed as such and pruned; prune
# --keep; --dest elsewhere; the destination commands work on a damaged store; usage
# errors (2) and failures (1). Bad backup names exit 1 (the library owns the rule).
# Run by CTest with STRATA_CLI set to the binary; prints "N passed, N failed".
set -u

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"     # the shared preamble and helpers
need_cli
need python3
workdir strata-cli-backup
B="$S/backups"

# ---- helpers (pass, fail, run, t, t_out, t_json, py, has_out, has_err, no_out,
# full_fails, stat_field and flip: lib.sh; fail caps stdout at 400 bytes); every
# check prints what went wrong and goes on ----

check() { if "$@"; then pass; else fail "check failed: $*"; fi; }
# names [ARGS...]: the backup names of `backup list --json ARGS`, one per line.
names() {
    "$CLI" --dir "$S" backup list --json "$@" | python3 -c 'import json,sys; print("\n".join(b["name"] for b in json.load(sys.stdin)))'
}
# dump DIR: the user-visible state of a store: settings and sessions as --json, then
# every document's meta (without its last access time) and content hash.
dump() {
    python3 - "$CLI" "$1" <<'EOF'
import hashlib, json, subprocess, sys
cli, d = sys.argv[1], sys.argv[2]
def run(*a):
    return subprocess.run([cli, "--dir", d, *a], check=True, stdout=subprocess.PIPE).stdout
print(run("setting", "list", "--json").decode())
print(run("session", "list", "--json").decode())
for i in json.loads(run("doc", "list", "--json")):
    m = json.loads(run("doc", "meta", i, "--json"))
    m.pop("last_access_ms")
    print(json.dumps(m, sort_keys=True), hashlib.sha256(run("doc", "get", i)).hexdigest())
EOF
}
# same_store A B: documents (ids, meta, content byte for byte), settings and sessions
# of the stores in A and B are equal.
same_store() {
    dump "$1" >"$T/dump.a" 2>&1; dump "$2" >"$T/dump.b" 2>&1
    if [ -s "$T/dump.a" ] && cmp -s "$T/dump.a" "$T/dump.b"; then pass
    else fail "stores $1 and $2 differ: $(diff "$T/dump.a" "$T/dump.b" | head -c 300)"; fi
}
name_re='^strata-[0-9]{8}-[0-9]{6}-[0-9]{3}(-[0-9]+)?$'

# ---- help ----

for c in backup "backup create" "backup list" "backup verify" "backup restore" "backup prune"; do
    # shellcheck disable=SC2086
    t 0 help $c;        has_out "usage: strata"
    # shellcheck disable=SC2086
    t 0 $c --help;      has_out "usage: strata"
done
t 0 help backup create;     for f in --dest --json "print the"; do has_out "$f"; done
t 0 help backup list;       for f in --dest --json incomplete good ISO-8601; do has_out "$f"; done
t 0 help backup verify;     for f in --dest "exit 1" "A-Za-z0-9_-"; do has_out "$f"; done
t 0 help backup restore;    for f in --dest --force "NAME TARGET"; do has_out "$f"; done
t 0 help backup prune;      for f in --dest "--keep N" "default 7"; do has_out "$f"; done
t 0 help;                   for c in "backup create" "backup list" "backup verify NAME" \
                                     "backup restore NAME TARGET" "backup prune"; do has_out "$c"; done

# ---- usage errors (exit 2) ----

t 2 backup;                                 has_err "missing command"
t 2 backup frob;                            has_err "unknown command"
t 2 --dir "$S" backup create x;             has_err "unexpected argument"
t 2 --dir "$S" backup create --dest;        has_err "needs a value"
t 2 --dir "$S" backup create --keep 3;      has_err "unknown option"
t 2 --dir "$S" backup list x
t 2 --dir "$S" backup list --bogus;         has_err "unknown option"
t 2 --dir "$S" backup list --dest '';       has_err "--dest"
t 2 --dir "$S" backup verify;               has_err "missing argument"
t 2 --dir "$S" backup verify a b;           has_err "unexpected argument"
t 2 --dir "$S" backup verify a --force;     has_err "unknown option"
t 2 --dir "$S" backup restore a;            has_err "missing argument"
t 2 --dir "$S" backup restore a b c;        has_err "unexpected argument"
t 2 --dir "$S" backup restore a '';         has_err "TARGET"
t 2 --dir "$S" backup restore a b --force=yes;  has_err "takes no value"
t 2 --dir "$S" backup restore a b --json;   has_err "unknown option"
t 2 --dir "$S" backup prune x
t 2 --dir "$S" backup prune --keep 0;       has_err "--keep"
t 2 --dir "$S" backup prune --keep -1;      has_err "--keep"
t 2 --dir "$S" backup prune --keep x;       has_err "--keep"
t 2 --dir "$S" backup prune --keep 99999999999;  has_err "out of range"
t 2 --dir "$S" backup prune --keep
[ ! -e "$S" ] && pass || fail "a usage error created the store"

# Commands on a missing store fail (1) and create nothing.
t 1 --dir "$S" backup create;               has_err "strata init"
t 1 --dir "$S" backup list;                 has_err "no such directory"
t 1 --dir "$S" backup prune
t 1 --dir "$S" backup verify strata-20000101-000000-000
t 1 --dir "$S" backup restore strata-20000101-000000-000 "$T/r0"
[ ! -e "$S" ] && [ ! -e "$T/r0" ] && pass || fail "a failed command created a directory"

# ---- a store with documents, settings and sessions ----

t 0 --dir "$S" init
t 2 --dir "$S" backup create --dest '';     has_err "--dest"   # checked once the store is open
# No backups yet: nothing listed, exit 0.
t_out 0 "" --dir "$S" backup list
t_out 0 "[]" --dir "$S" backup list --json
t_out 0 "removed 0 backups" --dir "$S" backup prune
[ ! -e "$B" ] && pass || fail "list/prune created the destination"
t 1 --dir "$S" backup verify strata-20000101-000000-000;  has_err "no backup"

mkdir -p "$T/orig"
printf 'hello, backups\n' >"$T/orig/small.txt"
printf 'a\0b\377\376\0\n\r\0end\377' >"$T/orig/bin"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 64)' >>"$T/orig/bin"
: >"$T/orig/empty"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T/orig/big"
for f in small.txt bin empty big; do t 0 --dir "$S" doc put "$f" "$T/orig/$f" --meta "{\"f\":\"$f\"}"; done
# A generated tree of text files of mixed sizes.
TR="$T/tree"
python3 - "$TR" <<'EOF'
import os, random, sys
root = sys.argv[1]
r = random.Random(6)
words = "the of and store backup segment manifest restore verify snapshot index vector".split()
for i in range(60):
    d = os.path.join(root, "d%d" % (i % 5), "s%d" % (i % 3))
    os.makedirs(d, exist_ok=True)
    n = r.choice([50, 900, 4000, 20000, 150000])
    with open(os.path.join(d, "f%03d.txt" % i), "w") as f:
        f.write(" ".join(r.choice(words) for _ in range(n // 6)) + "\n")
EOF
t 0 --dir "$S" import "$TR" --meta '{"source":"tree"}';   has_out "imported 60 files"
t 0 --dir "$S" setting set app.theme '"dark"'
t 0 --dir "$S" setting set app.limits '{"max":10,"list":[1,2,3],"nested":{"a":null}}'
t 0 --dir "$S" setting set 'weird key é' 42
t 0 --dir "$S" session new --id user-1 --data '{"cart":[1,2],"name":"Ann"}' --ttl 3600
t 0 --dir "$S" session new --id user-2
t 0 --dir "$S" session new --data '{"anon":true}'
t 0 --dir "$S" check
docs=$(stat_field documents)
[ "$docs" -eq 64 ] && pass || fail "want 64 documents, have $docs"

# ---- create, list, verify ----

lsn=$(stat_field lsn)
t 0 --dir "$S" backup create
b1=$(cat "$T/out")
[[ "$b1" =~ $name_re ]] && [ "$(wc -l <"$T/out")" -eq 1 ] && pass || fail "backup create printed '$b1'"
[ -f "$B/$b1/MANIFEST" ] && pass || fail "no $B/$b1/MANIFEST"
[ "$(stat_field lsn)" = "$lsn" ] && pass || fail "backup create changed the LSN"
t_json --dir "$S" backup list --json
py "len(d) == 1 and d[0]['name'] == '$b1' and d[0]['state'] == 'good' and d[0]['lsn'] == $lsn"
py "d[0]['created_at_ms'] > 1500000000000 and d[0]['bytes'] > 3000000 and d[0]['files'] >= 3"
py "set(d[0]) == {'name', 'state', 'lsn', 'created_at_ms', 'bytes', 'files'}"
t 0 --dir "$S" backup list
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
grep -qEx "$b1  lsn $lsn  $iso  [0-9.]+ (B|kB|MB|GB)  [0-9]+ files  good" "$T/out" &&
    [ "$(wc -l <"$T/out")" -eq 1 ] && pass || fail "backup list human line"
t 0 --dir "$S" backup verify "$b1";         has_out "ok: $b1 (lsn $lsn,"
t_json --dir "$S" backup verify "$b1" --json
py "d['name'] == '$b1' and d['ok'] is True and d['problems'] == [] and d['lsn'] == $lsn"

# create --json: the new backup as list shows it.
t 0 --dir "$S" setting set after.first 1
lsn2=$(stat_field lsn)
t_json --dir "$S" backup create --json
py "d['state'] == 'good' and d['lsn'] == $lsn2 and d['lsn'] > $lsn and d['files'] >= 3"
b2=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])' <"$T/out")
[ "$(names | tr '\n' ' ')" = "$b1 $b2 " ] && pass || fail "list order: $(names | tr '\n' ' ')"
# Incremental: the segments of b2 are the files of b1 (or of the store), not copies.
shared=0
for f in "$B/$b2"/docs/*; do
    [ "$(stat -c %h "$f")" -gt 1 ] && shared=$((shared + 1))
done
[ "$shared" -ge 1 ] && pass || fail "no segment of the second backup is a hard link"

# ---- restore ----

R="$T/restored"
t 0 --dir "$S" backup restore "$b1" "$R";  has_out "restored $b1 (lsn $lsn) into $R"
t 0 --dir "$R" check;                       has_out "ok: 64 documents"
[ "$(stat_field lsn "$R")" = "$lsn" ] && pass || fail "restored LSN"
for f in small.txt bin empty big; do
    t 0 --dir "$R" doc get "$f"
    cmp -s "$T/out" "$T/orig/$f" && pass || fail "restored $f differs from the original"
done
bad=0
while IFS= read -r f; do
    id=${f#"$TR"/}
    "$CLI" --dir "$R" doc get "$id" | cmp -s - "$f" || bad=$((bad + 1))
done < <(find "$TR" -type f)
[ "$bad" -eq 0 ] && pass || fail "$bad imported documents differ after restore"
# b1 predates the setting after.first: the restore holds the store as of b1's LSN.
t 1 --dir "$R" setting get after.first
t 0 --dir "$S" setting del after.first
same_store "$S" "$R"

# A non-empty target: refused without --force, replaced with it.
R2="$T/restored2"
t 0 --dir "$S" backup restore "$b2" "$R2"
t 0 --dir "$R2" setting set only.in.r2 true
t 1 --dir "$S" backup restore "$b1" "$R2";  has_err "not empty"; has_err "--force"
t 0 --dir "$R2" setting get only.in.r2      # untouched
t 0 --dir "$S" backup restore "$b1" "$R2" --force
t 0 --dir "$R2" check
t 1 --dir "$R2" setting get only.in.r2
same_store "$S" "$R2"
[ -z "$(ls -d "$T"/restored2.* 2>/dev/null)" ] && pass || fail "restore left folders beside TARGET"
# An empty existing directory is fine without --force.
mkdir "$T/emptydir"
t 0 --dir "$S" backup restore "$b1" "$T/emptydir"
t 0 --dir "$T/emptydir" check
# A directory of other files is never replaced, --force or not.
mkdir "$T/precious"; echo keep >"$T/precious/file"
t 1 --dir "$S" backup restore "$b1" "$T/precious" --force;  has_err "holds no Strata store"
t 1 --dir "$S" backup restore "$b1" "$T/precious"
[ "$(cat "$T/precious/file")" = keep ] && [ "$(ls "$T/precious")" = file ] && pass ||
    fail "restore touched a directory of other files"
# Restoring over the store that holds the backups would delete them: refused.
t 1 --dir "$S" backup restore "$b1" "$S" --force;   has_err "holds the backups"
t 1 --dir "$S" backup restore "$b1" "$B/inside";    has_err "inside the backup destination"
[ ! -e "$B/inside" ] && pass || fail "a refused restore created its target"
t 0 --dir "$S" check
[ "$(names | tr '\n' ' ')" = "$b1 $b2 " ] && pass || fail "the backups changed"

# ---- names: a bad name is no backup (exit 1) ----

for n in '../store' 'a/b' '.' '..' 'x y' "$(head -c 65 /dev/zero | tr '\0' a)"; do
    t 1 --dir "$S" backup verify "$n";       has_err "backup names"
    t 1 --dir "$S" backup restore "$n" "$T/rn"
done
t 1 --dir "$S" backup verify '';            has_err "backup names"
t 1 --dir "$S" backup verify strata-20000101-000000-000;  has_err "no backup"
t 1 --dir "$S" backup restore strata-20000101-000000-000 "$T/rn";  has_err "no backup"
[ ! -e "$T/rn" ] && pass || fail "a failed restore created its target"

# ---- verify catches a flipped byte (in copies: b1's files are hard links) ----

# Copies keep their name, in other destinations (a manifest names its own folder).
C1="$T/copies-seg"; C2="$T/copies-db"
mkdir -p "$C1" "$C2"
cp -r "$B/$b1" "$C1/$b1"
cp -r "$B/$b1" "$C2/$b1"
t 0 --dir "$S" backup verify "$b1" --dest "$C1"   # an intact copy verifies
seg=$(ls "$C1/$b1/docs" | head -1)
flip "$C1/$b1/docs/$seg" 200
t 1 --dir "$S" backup verify "$b1" --dest "$C1";  has_out "docs/$seg"; has_err "1 problem found"
run --dir "$S" backup verify "$b1" --dest "$C1" --json
[ "$rc" -eq 1 ] && pass || fail "verify --json of a damaged backup must exit 1"
py "d['ok'] is False and len(d['problems']) == 1"
flip "$C2/$b1/operational.db" -100
t 1 --dir "$S" backup verify "$b1" --dest "$C2";  has_out "operational.db"
t 1 --dir "$S" backup restore "$b1" "$T/rbad" --dest "$C2";  has_err "verification"
[ ! -e "$T/rbad" ] && pass || fail "a failed restore left its target"
t 0 --dir "$S" backup verify "$b1"          # the original is intact
t 0 --dir "$S" check                        # and so is the store
# A copy under another name is not that backup.
cp -r "$B/$b1" "$C1/renamed"
t 1 --dir "$S" backup verify renamed --dest "$C1"; has_err "names another backup"
rm -rf "$C1" "$C2"

# ---- incomplete folders ----

inc=strata-20000101-000000-000
mkdir "$B/$inc"
t 0 --dir "$S" backup list;                 has_out "$inc  incomplete"
[ "$(head -1 "$T/out")" = "$inc  incomplete" ] && pass || fail "incomplete is listed oldest first"
t_json --dir "$S" backup list --json
py "d[0] == {'name': '$inc', 'state': 'incomplete', 'lsn': None, 'created_at_ms': None, 'bytes': None, 'files': None}"
py "[b['state'] for b in d] == ['incomplete', 'good', 'good']"
t 1 --dir "$S" backup verify "$inc";        has_err "incomplete"
t 1 --dir "$S" backup restore "$inc" "$T/rinc"
t_out 0 "removed 1 backup" --dir "$S" backup prune
[ ! -e "$B/$inc" ] && pass || fail "prune left the incomplete folder"
[ "$(names | tr '\n' ' ')" = "$b1 $b2 " ] && pass || fail "prune (keep 7) removed a good backup"

# ---- prune --keep ----

t 0 --dir "$S" doc put late "$T/orig/small.txt"
t 0 --dir "$S" backup create;               b3=$(cat "$T/out")
t_json --dir "$S" backup prune --keep 5 --json;  py "d == {'removed': 0, 'keep': 5}"
t_out 0 "removed 2 backups" --dir "$S" backup prune --keep 1
[ "$(names)" = "$b3" ] && pass || fail "prune --keep 1 left: $(names | tr '\n' ' ')"
t 0 --dir "$S" backup verify "$b3"          # its files survive the older ones' removal
t 0 --dir "$S" backup restore "$b3" "$T/r3"
t 0 --dir "$T/r3" doc get late
same_store "$S" "$T/r3"
t_out 0 "removed 0 backups" --dir "$S" backup prune --keep 1

# ---- --dest elsewhere ----

E="$T/elsewhere/deeper"
t 0 --dir "$S" backup create --dest "$E";   be=$(cat "$T/out")
[ -f "$E/$be/MANIFEST" ] && pass || fail "no backup in --dest"
[ "$(names)" = "$b3" ] && pass || fail "--dest wrote into STORE/backups"
t 0 --dir "$S" backup list --dest "$E";     has_out "$be  lsn"
t 0 backup list --dest "$E"                 # no store needed at all
t 0 --dir "$S" backup verify "$be" --dest "$E"
t 1 --dir "$S" backup verify "$b3" --dest "$E";  has_err "no backup"
t 0 --dir "$T/nostore" backup restore "$be" "$T/re" --dest "$E"
t 0 --dir "$T/re" check
same_store "$S" "$T/re"
t_out 0 "removed 0 backups" backup prune --dest "$E"
t 1 --dir "$S" backup list --dest "$T/nosuch";      has_err "no such directory"
t 1 --dir "$S" backup prune --dest "$T/nosuch"
echo x >"$T/afile"
t 1 --dir "$S" backup list --dest "$T/afile";       has_err "not a directory"
t 1 --dir "$S" backup create --dest "$T/afile"

# ---- a damaged store: the destination commands do not need it ----

cp "$S/STRATA" "$T/STRATA.saved"
echo garbage >"$S/STRATA"
t 1 --dir "$S" stats
t 1 --dir "$S" backup create
t 0 --dir "$S" backup list;                 has_out "$b3  lsn"
t 0 --dir "$S" backup verify "$b3"
t 0 --dir "$S" backup restore "$b3" "$T/rescued"
t 0 --dir "$T/rescued" check
same_store "$T/r3" "$T/rescued"
cp "$T/STRATA.saved" "$S/STRATA"
t 0 --dir "$S" stats

# ---- a failed write to stdout is a failure ----

if [ -w /dev/full ]; then
    for args in "backup list" "backup list --json" "backup verify $b3" "backup prune --keep 1"; do
        full_fails "$args"
    done
else
    echo "skip: /dev/full is not writable here"
fi

# ---- the automatic schedule: serve takes a due backup, one-shot commands do not ----

D="$T/due"
t 0 --dir "$D" init
touch -d '3 days ago' "$D/STRATA" # no backup yet: due since the store's creation
t 0 --dir "$D" stats
[ ! -e "$D/backups" ] && pass || fail "a one-shot command took a scheduled backup"
"$CLI" --dir "$D" serve --port 0 >"$T/serve.out" 2>&1 &
spid=$!
for _ in $(seq 1 200); do
    "$CLI" --dir "$D" backup list 2>/dev/null | grep -q good && break
    sleep 0.1
done
"$CLI" --dir "$D" backup list | grep -q good && pass || fail "serve did not take the due backup"
kill -TERM "$spid"
wait "$spid" && pass || fail "serve exit status"

finish

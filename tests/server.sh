#!/usr/bin/env bash
# server.sh — `strata serve` with real clients (issue 5): redis-cli's view of every
# cache command compared byte for byte with Debian's redis-server started the same
# way, RESP3, AUTH and the loopback rule, the limits (bulk, multibulk, inline, query
# buffer, clients) with Redis's replies, garbage that disconnects only its sender,
# pipelining, redis-benchmark, the strata CLI working through DIR/strata.sock while
# the server holds the store (also for a path longer than sun_path), and a clean
# SIGTERM shutdown that keeps every acknowledged write.
# Run by CTest with STRATA_CLI set; needs redis-cli/redis-benchmark (redis-tools),
# redis-server and python3 (scripts/bootstrap installs them). Prints "N passed, N failed".
set -u

CLI=${STRATA_CLI:-}
[ -n "$CLI" ] && [ -x "$CLI" ] || { echo "server.sh: set STRATA_CLI to the strata binary" >&2; exit 2; }
for t in redis-cli redis-benchmark redis-server python3; do
    command -v "$t" >/dev/null || { echo "server.sh: $t is missing (run scripts/bootstrap)" >&2; exit 2; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/strata-server-XXXXXX") || exit 2
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 2

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...: the command succeeds
    local d=$1; shift
    if "$@"; then pass; else fail "$d"; fi
}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# serve DIR ARGS...: start `strata serve --port 0` on DIR; sets SPID and SPORT.
serve() {
    local dir=$1; shift
    "$CLI" --dir "$dir" init >/dev/null || return 1
    "$CLI" --dir "$dir" serve --port 0 "$@" >"$dir.out" 2>"$dir.err" &
    SPID=$!
    PIDS+=("$SPID")
    SPORT=""
    for _ in $(seq 1 100); do
        SPORT=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) and .*/\1/p' "$dir.out" 2>/dev/null)
        [ -n "$SPORT" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    [ -n "$SPORT" ]
}

now() { date +%s.%N | cut -c1-14; }
stop() { # stop PID: SIGTERM, then wait (bounded) for a clean exit 0
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    wait "$pid"
}

# raw PORT BYTES...: send bytes (printf format) on one connection, print what comes
# back until the server closes or 1 s of silence.
raw() {
    python3 - "$@" <<'EOF'
import socket, sys, time
port = int(sys.argv[1]); data = sys.argv[2].encode().decode('unicode_escape').encode('latin-1')
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(1.0)
s.sendall(data)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b: out += b"<closed>"; break
        out += b
except socket.timeout:
    pass
sys.stdout.write(repr(out)[2:-1])
EOF
}

# ---- 1. the cache commands, as redis-cli shows them, against redis-server ----
serve "$T/s1" || { echo "FAIL: strata serve did not start"; cat "$T/s1.err"; exit 1; }
P=$SPORT
S1PID=$SPID
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    >"$T/redis.log" 2>&1 &
RPID=$!
PIDS+=("$RPID")
for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

# Commands whose reply is the same in both (SELECT 1, the default policy and the
# policy list differ by design: one database, four policies).
cat >"$T/cmds.txt" <<'EOF'
SET a 1
GET a
SET a 2 NX
SET a 3 XX
SET b 1 XX
SET a 4 GET
SET a 5 NX GET
SET c 5 NX GET
SET a 1 NX XX
SET a 1 EX 0
SET a 1 EX -5
SET a 1 PX 9223372036854775807
SET a 1 EX 9223372036854775807
SET a 1 EX abc
SET a 1 EX 10 PX 100
SET a 1 KEEPTTL EX 10
SET a 1 EX 100
TTL a
SET a 2 KEEPTTL
TTL a
SET a 3
TTL a
SET a
GET a b
SETNX a 9
SETNX z 9
SETEX e 0 v
SETEX e 100 v
PSETEX e 0 v
GETSET a new
GETSET nope x
GETDEL a
GETDEL a
GETEX e PERSIST
TTL e
GETEX e EX 50
TTL e
GETEX e EX 0
GETEX e PERSIST EX 10
GETEX nope
DEL a b c e z nope
EXISTS a a a
SET x 10
INCR x
INCRBY x 5
DECRBY x 3
DECR x
INCRBY x abc
INCRBY x 1.5
DECRBY x -9223372036854775808
SET x 9223372036854775807
INCR x
SET x -9223372036854775808
DECR x
SET x 01
INCR x
SET x " 1"
INCR x
SET x -0
INCR x
APPEND x abc
APPEND newkey hello
GETRANGE newkey 0 -1
GETRANGE newkey 1 2
GETRANGE newkey -3 -1
GETRANGE newkey -1 -3
GETRANGE newkey 3 100
GETRANGE newkey -100 1
GETRANGE newkey 10 20
GETRANGE nope 0 -1
GETRANGE newkey a 1
SUBSTR newkey 0 1
TIME x
STRLEN newkey
STRLEN nope
MSET k1 v1 k2 v2
MSET k1
MGET k1 k2 k3
MSETNX k1 a k9 b
MSETNX k8 a k9 b
MGET k8 k9
EXPIRE k1 100
EXPIRE k1 50 NX
EXPIRE k1 50 XX
EXPIRE k1 200 GT
EXPIRE k1 10 LT
TTL k1
EXPIRE k1 10 NX XX
EXPIRE k1 10 GT LT
EXPIRE k1 10 FOO
EXPIRE k2 10 GT
EXPIRE k2 10 LT
PERSIST k2
PERSIST k2
PERSIST nope
EXPIRE nope 10
EXPIRE k1 9223372036854775807
PEXPIRE k1 9223372036854775807
EXPIRE k2 -1
EXISTS k2
EXPIREAT k8 1
EXISTS k8
PTTL nope
TTL k9
TYPE k9
TYPE nope
SELECT 0
SELECT x
PING
PING hello
PING a b
ECHO hi
ECHO
NOSUCHCMD a b
AUTH x
CLIENT GETNAME
CLIENT SETNAME my name
CLIENT SETNAME myname
CLIENT FOO
CONFIG SET nope 1
SCAN abc
SCAN 0 COUNT 0
SCAN 0 COUNT x
SCAN 0 FOO bar
SET e1 v
EXPIRETIME e1
EXPIRETIME nope
HELLO 4
HELLO abc
DBSIZE
FLUSHDB FOO
FLUSHDB ASYNC
DBSIZE
KEYS *
EOF
run_cmds() { # PORT [-3]
    while IFS= read -r line; do
        echo "> $line"
        eval "redis-cli $2 -p $1 $line" 2>&1
    done <"$T/cmds.txt"
}
run_cmds "$RPORT" "" >"$T/redis.txt"
run_cmds "$P" "" >"$T/strata.txt"
if diff -u "$T/redis.txt" "$T/strata.txt" >"$T/diff.txt"; then pass; else fail "RESP2 replies differ from redis-server's"; head -40 "$T/diff.txt"; fi
run_cmds "$RPORT" -3 >"$T/redis3.txt"
run_cmds "$P" -3 >"$T/strata3.txt"
if diff -u "$T/redis3.txt" "$T/strata3.txt" >"$T/diff3.txt"; then pass; else fail "RESP3 replies differ from redis-server's"; head -40 "$T/diff3.txt"; fi
# MULTI/EXEC/DISCARD: one connection per session (redis-cli reading stdin)
multi_sessions() { # PORT [-3]
    for sess in 'MULTI|SET t 1|INCR t|GET t|EXEC' 'MULTI|SET t|GET t|EXEC' 'MULTI|NOSUCH x|EXEC' 'EXEC|DISCARD' \
                'MULTI|MULTI|DISCARD|GET t' 'MULTI|SET t 5|DISCARD|GET t' 'MULTI|SET s abc|INCR s|GET s|EXEC' \
                'MULTI|WATCH t|SET t 9|EXEC' 'UNWATCH' 'MULTI|EXEC' 'MULTI|PING|ECHO hi|MGET t s nope|EXEC'; do
        echo "> $sess"
        echo "$sess" | tr '|' '\n' | redis-cli $2 -p "$1" 2>&1
    done
    redis-cli -p "$1" del t s >/dev/null
}
multi_sessions "$RPORT" "" >"$T/redis-multi.txt"
multi_sessions "$P" "" >"$T/strata-multi.txt"
if diff -u "$T/redis-multi.txt" "$T/strata-multi.txt" >"$T/diff-multi.txt"; then pass
else fail "MULTI/EXEC replies differ from redis-server's"; head -40 "$T/diff-multi.txt"; fi
multi_sessions "$RPORT" -3 >"$T/redis-multi3.txt"
multi_sessions "$P" -3 >"$T/strata-multi3.txt"
if diff -u "$T/redis-multi3.txt" "$T/strata-multi3.txt" >"$T/diff-multi3.txt"; then pass
else fail "MULTI/EXEC RESP3 replies differ from redis-server's"; head -40 "$T/diff-multi3.txt"; fi

# binary-safe keys and values, and a value of 1 MB, through redis-cli -x
head -c 1048576 /dev/urandom >"$T/blob"
redis-cli -p "$P" -x set blob <"$T/blob" >/dev/null
redis-cli -p "$P" --no-raw strlen blob | grep -q '1048576' && pass || fail "1 MB value"
redis-cli -p "$P" get blob | head -c 1048576 | cmp -s - "$T/blob" && pass || fail "1 MB value read back"

# RESP3 on the wire: nulls, maps, verbatim INFO
out=$(raw "$P" 'HELLO 3\r\nGET nope\r\nMGET nope\r\nCONFIG GET maxclients\r\nINFO keyspace\r\nQUIT\r\n')
case $out in *'_\r\n*1\r\n_\r\n%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n='*'txt:# Keyspace'*'+OK\r\n<closed>') pass ;;
    *) fail "RESP3 wire format: $out" ;; esac
out=$(raw "$P" 'GET nope\r\nQUIT\r\n')
[ "$out" = '$-1\r\n+OK\r\n<closed>' ] && pass || fail "RESP2 null: $out"

# INFO's field names
info=$(redis-cli -p "$P" info all)
for f in redis_version connected_clients used_memory maxmemory maxmemory_policy keyspace_hits keyspace_misses \
         evicted_keys expired_keys total_commands_processed; do
    echo "$info" | grep -q "^$f:" && pass || fail "INFO lacks $f"
done
redis-cli -p "$P" config set maxmemory 10mb | grep -q OK && pass || fail "CONFIG SET maxmemory"
[ "$(redis-cli -p "$P" config get maxmemory | tail -1)" = 10485760 ] && pass || fail "CONFIG GET maxmemory"
redis-cli -p "$P" config set maxmemory-policy allkeys-lru | grep -q OK && pass || fail "CONFIG SET policy"
[ "$(redis-cli -p "$P" config get maxmemory-policy | tail -1)" = allkeys-lru ] && pass || fail "CONFIG GET policy"
[ "$(redis-cli -p "$P" command count)" -gt 40 ] && pass || fail "COMMAND COUNT"
redis-cli -p "$P" command info get | grep -q readonly && pass || fail "COMMAND INFO"

# ---- 2. pipelining and limits ----
python3 - "$P" <<'EOF' && pass || fail "pipelining 10000 requests in one write"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
n = 10000
s.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n" % (len(b"k%d" % i), i) for i in range(n)) +
          b"".join(b"GET k%d\r\n" % i for i in range(n)))
want = b"+OK\r\n" * n + b"$1\r\nv\r\n" * n
got = b""
s.settimeout(10)
while len(got) < len(want):
    b = s.recv(1 << 20)
    if not b: break
    got += b
sys.exit(0 if got == want else 1)
EOF
out=$(raw "$P" '*1\r\n$600000000\r\n')
[ "$out" = '-ERR Protocol error: invalid bulk length\r\n<closed>' ] && pass || fail "bulk length limit: $out"
out=$(raw "$P" '*2000000\r\n')
[ "$out" = '-ERR Protocol error: invalid multibulk length\r\n<closed>' ] && pass || fail "multibulk limit: $out"
out=$(raw "$P" '*1\r\nx\r\n')
[ "$out" = "-ERR Protocol error: expected '\$', got 'x'\\r\\n<closed>" ] && pass || fail "garbage: $out"
out=$(raw "$P" 'SET "a b\r\n')
[ "$out" = '-ERR Protocol error: unbalanced quotes in request\r\n<closed>' ] && pass || fail "unbalanced quotes: $out"
python3 - "$P" <<'EOF' && pass || fail "inline request over 64 KiB"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(5)
s.sendall(b"A" * 70000)
out = s.recv(1000)
sys.exit(0 if out == b"-ERR Protocol error: too big inline request\r\n" else 1)
EOF
redis-cli -p "$P" config set proto-max-bulk-len 1mb client-query-buffer-limit 2mb | grep -q OK && pass || fail "CONFIG SET limits"
python3 - "$P" <<'EOF' && pass || fail "query buffer limit"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(5)
arg = b"$1000000\r\n" + b"x" * 1000000 + b"\r\n"
try:
    s.sendall(b"*4\r\n$4\r\nMSET\r\n" + arg * 3)
except OSError:
    pass
out = b""
try:
    while True:
        b = s.recv(1000)
        if not b: break
        out += b
except OSError:
    pass
sys.exit(0 if out.startswith(b"-ERR Protocol error: query buffer limit") else 1)
EOF
out=$(raw "$P" '*2\r\n$4\r\nECHO\r\n$1048577\r\n')
[ "$out" = '-ERR Protocol error: invalid bulk length\r\n<closed>' ] && pass || fail "lowered bulk limit: $out"
# random garbage on many connections at once; the server and other clients go on
python3 - "$P" <<'EOF' && pass || fail "garbage clients disconnected, others unharmed"
import os, socket, sys
port = int(sys.argv[1])
good = socket.create_connection(("127.0.0.1", port)); good.settimeout(5)
bad = []
for i in range(30):
    b = socket.create_connection(("127.0.0.1", port)); b.settimeout(2)
    junk = os.urandom(100).replace(b"\r", b"?")
    b.sendall(b"*x" + junk + b"\r\n" if i % 2 else b"*3\r\n$3\r\nSET\r\n$z" + junk + b"\r\n")
    bad.append(b)
good.sendall(b"PING\r\n")
ok = good.recv(100) == b"+PONG\r\n"
closed = 0
for b in bad:
    try:
        data = b""
        while True:
            d = b.recv(4096)
            if not d: closed += 1; break
            data += d
    except OSError:
        pass
good.sendall(b"ECHO still\r\n")
ok = ok and good.recv(100) == b"$5\r\nstill\r\n"
sys.exit(0 if ok and closed == 30 else 1)
EOF
kill -0 "$S1PID" && pass || fail "server died"

# redis-benchmark, pipelined and not
bench=$(redis-benchmark -p "$P" -t set,get -n 20000 -c 20 -P 16 -q 2>&1)
echo "$bench" | grep -aq 'SET: [0-9.]* requests per second' && echo "$bench" | grep -aq 'GET: [0-9.]* requests per second' &&
    pass || fail "redis-benchmark -P 16: $bench"
bench=$(redis-benchmark -p "$P" -t get -n 5000 -c 10 -q 2>&1)
echo "$bench" | grep -aq 'GET: [0-9.]* requests per second' && pass || fail "redis-benchmark: $bench"

# ---- 3. the CLI through DIR/strata.sock while the server holds the store ----
S="$T/s1"
[ "$(stat -c %a "$S/strata.sock")" = 600 ] && pass || fail "socket mode"
check "setting set" "$CLI" --dir "$S" setting set theme '"dark"'
[ "$("$CLI" --dir "$S" setting get theme)" = '"dark"' ] && pass || fail "setting get"
check "setting set 2" "$CLI" --dir "$S" setting set n '{"a": [1, 2]}'
"$CLI" --dir "$S" setting get missing 2>"$T/err"; [ $? = 1 ] && grep -q "not found" "$T/err" && pass || fail "setting get missing"
id=$("$CLI" --dir "$S" session new --data '{"u":1}' --ttl 60)
[ ${#id} = 32 ] && pass || fail "session new: $id"
[ "$("$CLI" --dir "$S" session new --id fixed)" = fixed ] && pass || fail "session new --id"
check "session touch" "$CLI" --dir "$S" session touch fixed
"$CLI" --dir "$S" session touch nobody 2>/dev/null; [ $? = 1 ] && pass || fail "session touch missing"
echo "document one" | "$CLI" --dir "$S" doc put d1 --meta '{"lang":"en"}' && pass || fail "doc put (stdin)"
printf 'two' >"$T/two.txt"
"$CLI" --dir "$S" doc put d2 "$T/two.txt" --json >"$T/put.json" && grep -q '"size":3' "$T/put.json" && pass || fail "doc put --json"
[ "$("$CLI" --dir "$S" doc get d1)" = "document one" ] && pass || fail "doc get"
"$CLI" --dir "$S" doc get d2 -o "$T/out.txt" && [ "$(cat "$T/out.txt")" = two ] && pass || fail "doc get -o"
"$CLI" --dir "$S" doc get nope 2>/dev/null; [ $? = 1 ] && pass || fail "doc get missing"
[ "$("$CLI" --dir "$S" doc list --where '$.lang="en"')" = d1 ] && pass || fail "doc list --where"
redis-cli -p "$P" strata.docput d3 'three' '{"x":1}' | grep -Eq '^[0-9]+$' && pass || fail "STRATA.DOCPUT"
[ "$(redis-cli -p "$P" strata.docget d3)" = three ] && pass || fail "STRATA.DOCGET"
check "doc del" "$CLI" --dir "$S" doc del d3
check "session del" "$CLI" --dir "$S" session del "$id"
[ "$("$CLI" --dir "$S" session expire --idle 100000)" = 0 ] && pass || fail "session expire"
check "setting del" "$CLI" --dir "$S" setting del theme
# vectors, metrics, SQL and backups through the server
check "vec create" "$CLI" --dir "$S" vec create emb --dim 3 --metric l2
redis-cli -p "$P" strata.vec put emb v1 values '1 0 0' | grep -Eq '^[0-9]+$' && pass || fail "STRATA.VEC PUT"
redis-cli -p "$P" strata.vec put emb v2 values '[0, 1, 0]' >/dev/null
redis-cli -p "$P" strata.vec put emb v3 values '0.9,0.1,0' >/dev/null
[ "$(redis-cli -p "$P" strata.search emb values '1 0 0' k 1 exact)" = "$(printf 'v1\n0')" ] && pass ||
    fail "STRATA.SEARCH: $(redis-cli -p "$P" strata.search emb values '1 0 0' k 1 exact)"
redis-cli -p "$P" strata.sql 'COPY query_metrics TO '"'$T/leak.csv'" | grep -q ERR && [ ! -e "$T/leak.csv" ] && pass ||
    fail "STRATA.SQL refuses COPY"
check "metric record" "$CLI" --dir "$S" metric record query_metrics \
    '{"query_type":"q","latency_ms":4.5,"result_count":2,"success":true,"retrieval_strategy":"served"}'
bname=$("$CLI" --dir "$S" backup create) && [ -n "$bname" ] && "$CLI" --dir "$S" backup list | grep -q "$bname" && pass ||
    fail "backup create through the server: $bname"
"$CLI" --dir "$S" backup verify "$bname" >/dev/null && pass || fail "backup verify of the served backup"
"$CLI" --dir "$S" sql 'SELECT $name' --param name=1 2>"$T/err"; [ $? = 2 ] && grep -q positional "$T/err" && pass ||
    fail "named SQL parameters through the server"
"$CLI" --dir "$S" vec drop nope 2>"$T/err"; [ $? = 1 ] && grep -q "no collection" "$T/err" && pass ||
    fail "vec drop missing through the server"
# the same commands' output, through the server and then directly (server stopped)
served_out() {
    for c in "setting list" "setting list --json" "setting get n --json" "session list --json" "session get fixed --json" \
             "session get fixed" "doc meta d1" "doc meta d2 --json" "doc list" "doc list --json --prefix d" \
             "doc get d2" "vec list" "vec list --json" "vec search emb --vector [1,0,0] -k 2" \
             "vec search emb --doc v2 --json" "vec search emb --text nothing"; do
        # shellcheck disable=SC2086
        "$CLI" --dir "$S" $c
        echo "== $?"
    done
    for fmt in "" --json --csv; do
        # shellcheck disable=SC2086
        "$CLI" --dir "$S" sql 'SELECT retrieval_strategy, latency_ms, success, timestamp > TIMESTAMP '"'2020-01-01'"' AS t
                               FROM query_metrics WHERE latency_ms > $1 ORDER BY 1' --param 1=1 $fmt
        echo "== $?"
    done
    "$CLI" --dir "$S" stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["documents"], d["settings"], d["sessions"])'
}
served_out >"$T/served.txt" 2>&1
"$CLI" --dir "$S" check >"$T/check.out" 2>&1; [ $? = 1 ] && grep -q "cannot run through" "$T/check.out" && pass ||
    fail "check while served: $(cat "$T/check.out")"
redis-cli -p "$P" set survive yes >/dev/null

# ---- 4. SIGTERM: clean shutdown, nothing lost ----
python3 - "$P" <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(3)
EOF
IDLE=$!
sleep 0.2
stop "$S1PID"; rc=$?
[ $rc = 0 ] && pass || fail "serve exit status after SIGTERM: $rc"
grep -q "stopped; connections closed" "$S.out" && pass || fail "shutdown message"
[ ! -e "$S/strata.sock" ] && pass || fail "socket removed at shutdown"
wait "$IDLE" 2>/dev/null
"$CLI" --dir "$S" check >/dev/null && pass || fail "store checks clean after the server"
sed -i 's/"last_access_ms":[0-9null]*/"last_access_ms":X/; s/^last_access .*/last_access X/' "$T/served.txt"
served_out 2>&1 | sed 's/"last_access_ms":[0-9null]*/"last_access_ms":X/; s/^last_access .*/last_access X/' >"$T/direct.txt"
if diff "$T/served.txt" "$T/direct.txt" >"$T/cli.diff"; then pass
else fail "CLI output through the server differs from the direct output"; head -20 "$T/cli.diff"; fi
[ "$("$CLI" --dir "$S" doc get d1)" = "document one" ] && pass || fail "document kept"
"$CLI" --dir "$S" doc get d3 2>/dev/null; [ $? = 1 ] && pass || fail "deleted document stays deleted"
"$CLI" --dir "$S" setting get theme 2>/dev/null; [ $? = 1 ] && pass || fail "deleted setting stays deleted"

# ---- 5. AUTH, the loopback rule, maxclients, a long store path ----
serve "$T/s2" --requirepass s3cret --maxclients 3 || fail "serve with --requirepass"
P2=$SPORT
out=$(redis-cli -p "$P2" get a 2>&1)
[ "$out" = "NOAUTH Authentication required." ] && pass || fail "NOAUTH: $out"
out=$(redis-cli -p "$P2" --no-auth-warning -a wrong get a 2>&1)
echo "$out" | grep -q "WRONGPASS\|NOAUTH" && pass || fail "wrong password: $out"
out=$(redis-cli -p "$P2" --no-auth-warning -a s3cret set a 1 2>&1)
[ "$out" = OK ] && pass || fail "AUTH: $out"
out=$(raw "$P2" 'HELLO 3 AUTH default s3cret\r\nGET a\r\nQUIT\r\n')
case $out in '%7\r\n$6\r\nserver\r\n$6\r\nstrata\r\n'*'$1\r\n1\r\n+OK\r\n<closed>') pass ;; *) fail "HELLO 3 AUTH: $out" ;; esac
out=$(raw "$P2" '*11\r\n')
[ "$out" = '-ERR Protocol error: unauthenticated multibulk length\r\n<closed>' ] && pass || fail "unauthenticated multibulk: $out"
out=$(raw "$P2" '*1\r\n$20000\r\n')
[ "$out" = '-ERR Protocol error: unauthenticated bulk length\r\n<closed>' ] && pass || fail "unauthenticated bulk: $out"
"$CLI" --dir "$T/s2" setting set via '"unix"' && pass || fail "unix socket needs no AUTH"
python3 - "$P2" <<'EOF' && pass || fail "maxclients"
import socket, sys, time
port = int(sys.argv[1])
cs = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
for c in cs: c.settimeout(5); c.sendall(b"AUTH s3cret\r\n"); assert c.recv(100) == b"+OK\r\n"
x = socket.create_connection(("127.0.0.1", port)); x.settimeout(5)
got = x.recv(100)
sys.exit(0 if got == b"-ERR max number of clients reached\r\n" else 1)
EOF
stop "$SPID" || fail "stop s2"
# out of file descriptors (ulimit 48): new connections are refused with the same
# error instead of spinning the loop, and the connected clients go on
"$CLI" --dir "$T/s5" init >/dev/null
(ulimit -n 48; exec "$CLI" --dir "$T/s5" serve --port 0 >"$T/s5.out" 2>&1) &
S5=$!
PIDS+=("$S5")
P5=""
for _ in $(seq 1 100); do
    P5=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) and .*/\1/p' "$T/s5.out" 2>/dev/null)
    [ -n "$P5" ] && break
    sleep 0.05
done
python3 - "$P5" <<'EOF' && pass || fail "out of descriptors"
import socket, sys, time
port = int(sys.argv[1])
first = socket.create_connection(("127.0.0.1", port)); first.settimeout(5)
conns, refused = [], 0
for i in range(80):
    c = socket.create_connection(("127.0.0.1", port)); c.settimeout(5)
    conns.append(c)
time.sleep(0.3)
for c in conns:
    try:
        c.sendall(b"PING\r\n")
        if c.recv(100).startswith(b"-ERR max number of clients reached"): refused += 1
    except OSError:
        refused += 1
first.sendall(b"PING\r\n")
ok = first.recv(100) == b"+PONG\r\n"
sys.exit(0 if ok and refused >= 30 else 1)
EOF
cpu=$(ps -o %cpu= -p "$S5" | tr -d ' ')
awk -v c="$cpu" 'BEGIN { exit !(c < 50) }' && pass || fail "out of descriptors: serve spins at $cpu% CPU"
stop "$S5" || fail "stop s5"
"$CLI" --dir "$T/s3" init >/dev/null
"$CLI" --dir "$T/s3" serve --bind 0.0.0.0 --port 0 >/dev/null 2>"$T/bind.err"
[ $? = 1 ] && grep -q "not a loopback address" "$T/bind.err" && pass || fail "non-loopback bind without a password"
serve "$T/s3" --bind 0.0.0.0 --requirepass pw && pass || fail "non-loopback bind with a password"
redis-cli -p "$SPORT" --no-auth-warning -a pw ping | grep -q PONG && pass || fail "ping on 0.0.0.0"
kill -INT "$SPID"
for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.05; done
wait "$SPID" && pass || fail "SIGINT: clean exit"

# ---- 6. --cache-url: the keys live on redis-server, the store stays here ----
serve "$T/s4" --cache-url "redis://127.0.0.1:$RPORT" || fail "serve --cache-url"
redis-cli -p "$SPORT" set via-strata 42 >/dev/null
[ "$(redis-cli -p "$RPORT" get via-strata)" = 42 ] && pass || fail "a key set through strata is on redis-server"
redis-cli -p "$RPORT" set via-redis 7 >/dev/null
[ "$(redis-cli -p "$SPORT" get via-redis)" = 7 ] && pass || fail "a key set on redis-server is seen through strata"
[ "$(redis-cli -p "$SPORT" config get strata-cache-url | tail -1)" = "redis://127.0.0.1:$RPORT" ] && pass ||
    fail "CONFIG GET strata-cache-url"
redis-cli -p "$SPORT" strata.docput viaurl doc >/dev/null && [ "$(redis-cli -p "$SPORT" strata.docget viaurl)" = doc ] &&
    pass || fail "documents stay in the store with --cache-url"
stop "$SPID" || fail "stop s4"
LONG="$T/$(printf 'd%.0s' $(seq 1 60))/$(printf 'e%.0s' $(seq 1 60))"
mkdir -p "$(dirname "$LONG")"
serve "$LONG" || fail "serve a store whose socket path exceeds sun_path"
"$CLI" --dir "$LONG" setting set long '1' && [ "$("$CLI" --dir "$LONG" setting get long)" = 1 ] && pass ||
    fail "CLI through a long socket path"
stop "$SPID" || fail "stop long"

# ---- 7. kill -9 during concurrent writes: every acknowledged write is there ----
# Eight clients put documents and settings as fast as the server acknowledges them
# (the commits run on its workers, grouped); the server is killed without warning;
# the store, opened directly, holds every id a client saw acknowledged.
for round in 1 2 3; do
    K="$T/kill$round"
    serve "$K" || fail "serve $K"
    python3 - "$SPORT" "$K.acked" <<'EOF' &
import socket, sys, threading
port, out = int(sys.argv[1]), sys.argv[2]
acked, lock = [], threading.Lock()
def bulk(b): return b"$%d\r\n%s\r\n" % (len(b), b)
def writer(w):
    try:
        s = socket.create_connection(("127.0.0.1", port))
        f = s.makefile("rb")
        for i in range(100000):
            key = ("k%d-%d" % (w, i)).encode()
            cmd = [b"STRATA.DOCPUT", key, b"text of " + key] if i % 2 else [b"STRATA.SETTING", b"SET", key, b"%d" % i]
            s.sendall(b"*%d\r\n" % len(cmd) + b"".join(bulk(a) for a in cmd))
            line = f.readline()
            if not line or line[:1] not in (b":", b"+"):
                return
            with lock:
                acked.append(("doc " if i % 2 else "setting ") + key.decode())
    except OSError:
        return
ts = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
for t in ts: t.start()
for t in ts: t.join()
with open(out, "w") as fh: fh.write("\n".join(acked) + "\n")
EOF
    WPID=$!
    sleep "0.$((3 + round * 2))"
    kill -KILL "$SPID"
    wait "$SPID" 2>/dev/null
    wait "$WPID"
    n=$(grep -c . "$K.acked")
    { "$CLI" --dir "$K" doc list | sed 's/^/doc /'; "$CLI" --dir "$K" setting list | cut -f1 | sed 's/^/setting /'; } |
        sort >"$K.present"
    missing=$(sort "$K.acked" | comm -23 - "$K.present" | grep -c .)
    echo "kill -9 round $round: $n writes acknowledged, $missing of them missing"
    [ "$n" -gt 0 ] && [ "$missing" = 0 ] && pass ||
        fail "kill -9 round $round: $missing acknowledged writes lost ($n acknowledged)"
    "$CLI" --dir "$K" check >/dev/null && pass || fail "kill -9 round $round: the store does not check clean"
done

stop "$RPID" >/dev/null 2>&1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

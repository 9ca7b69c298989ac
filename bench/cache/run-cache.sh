#!/usr/bin/env bash
# bench/cache/run-cache.sh — the hot tier's benchmark, one run, the anchor beside it:
#  1. redis-benchmark SET and GET, -P 1 and -P 16, 50 clients, 64-byte and 1 KB values,
#     100000 random keys, against `strata serve` and against Debian's redis-server
#     started the same way (loopback, a free port, no persistence); the two servers
#     take turns, REPS times each; the median requests/s of each and their ratio
#     (goal >= 1.0);
#  2. bench_cache hitratio: Zipf(0.99) hit ratios at maxmemory = 10% of the working
#     set, Strata's allkeys-lru/lfu against redis-server's (goal >= 0.80);
#  3. bench_cache get: in-process GET ops/s (goal >= 10M/s);
#  4. durable writes over RESP, 50 clients: STRATA.SETTING SET and STRATA.DOCPUT (each
#     acknowledged after its fsync'd commit) against redis-server with
#     --appendonly yes --appendfsync always (SET acknowledged after the AOF fsync).
# Usage: bench/cache/run-cache.sh            (Release build in build-bench-cache/)
#   REPS=5 N1=300000 N16=2000000 BUILD_DIR=/tmp/b bench/cache/run-cache.sh
# Both servers run on this machine with redis-benchmark: on a 2-core machine each
# server gets one core and redis-benchmark the other.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$src/build-bench-cache}"
REPS=${REPS:-3}
N1=${N1:-300000}      # requests per redis-benchmark run without pipelining
N16=${N16:-2000000}   # ... with -P 16
for t in redis-server redis-benchmark redis-cli python3; do
    command -v "$t" >/dev/null || { echo "run-cache.sh: $t is missing (scripts/bootstrap installs it)" >&2; exit 2; }
done
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target bench_cache strata_cli >/dev/null
CLI="$build/strata"
BENCH="$build/bench/cache/bench_cache"

T=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-cache-XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$T/redis.log" 2>&1 &
PIDS+=($!)
"$CLI" --dir "$T/store" init >/dev/null
"$CLI" --dir "$T/store" serve --port 0 >"$T/serve.out" 2>&1 &
PIDS+=($!)
SPORT=""
for _ in $(seq 1 200); do
    SPORT=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) and .*/\1/p' "$T/serve.out")
    [ -n "$SPORT" ] && redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break
    sleep 0.05
done
[ -n "$SPORT" ] || { echo "strata serve did not start"; cat "$T/serve.out"; exit 1; }

echo "== machine: $(nproc) cores, $(uname -sr); $(redis-server --version | cut -d' ' -f1-3); strata $("$CLI" --version | cut -d' ' -f2)"
echo "== 1. redis-benchmark, 50 clients, -r 100000, median of $REPS runs per server (requests/s)"
printf '%-5s %-6s %-4s %14s %14s %8s\n' test value pipe redis-server strata ratio
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rps() { # PORT TEST VALUE PIPE N
    redis-benchmark -p "$1" -t "$2" -d "$3" -P "$4" -n "$5" -c 50 -r 100000 --csv 2>/dev/null |
        awk -F'"' 'NR > 1 && $2 != "" { print $4; exit }'
}
ratios=()
for value in 64 1024; do
    for pipe in 1 16; do
        n=$N1
        [ "$pipe" = 16 ] && n=$N16
        for test in set get; do
            : >"$T/r"
            : >"$T/s"
            for _ in $(seq 1 "$REPS"); do
                rps "$RPORT" "$test" "$value" "$pipe" "$n" >>"$T/r"
                rps "$SPORT" "$test" "$value" "$pipe" "$n" >>"$T/s"
            done
            r=$(median <"$T/r")
            s=$(median <"$T/s")
            ratio=$(awk -v a="$s" -v b="$r" 'BEGIN { printf "%.2f", a / b }')
            ratios+=("$ratio")
            printf '%-5s %-6s %-4s %14.0f %14.0f %8s\n' "$test" "${value}B" "-P$pipe" "$r" "$s" "$ratio"
        done
    done
done
printf 'lowest ratio: %s (goal >= 1.0)\n' "$(printf '%s\n' "${ratios[@]}" | sort -n | head -1)"
redis-cli -p "$RPORT" flushall >/dev/null
echo
echo "== 2. hit ratio"
"$BENCH" hitratio --port "$RPORT"
echo
echo "== 3. in-process GET"
"$BENCH" get
echo
NW=${NW:-20000}
echo "== 4. durable writes, 50 clients, $NW requests, median of $REPS runs (requests/s)"
APORT=$(free_port)
mkdir -p "$T/aof"
(cd "$T/aof" && exec redis-server --port "$APORT" --bind 127.0.0.1 --save "" --appendonly yes \
    --appendfsync always --daemonize no >"$T/aof.log" 2>&1) &
PIDS+=($!)
for _ in $(seq 1 200); do redis-cli -p "$APORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
wrps() { # PORT ARGS...
    local port=$1
    shift
    redis-benchmark -p "$port" -n "$NW" -c 50 -r 100000 --csv "$@" 2>/dev/null |
        awk -F'"' 'NR > 1 && $2 != "" { print $4; exit }'
}
text=$(printf 'x%.0s' $(seq 1 64))
: >"$T/a"; : >"$T/w1"; : >"$T/w2"
for _ in $(seq 1 "$REPS"); do
    wrps "$APORT" -t set -d 64 >>"$T/a"
    wrps "$SPORT" STRATA.SETTING SET k__rand_int__ 12345 >>"$T/w1"
    wrps "$SPORT" STRATA.DOCPUT doc:__rand_int__ "$text" >>"$T/w2"
done
a=$(median <"$T/a")
printf '%-44s %10.0f\n' "redis-server SET 64 B, appendfsync always" "$a"
for f in w1 w2; do
    name="STRATA.SETTING SET (SQLite row, FULL sync)"
    [ "$f" = w2 ] && name="STRATA.DOCPUT 64 B (segment + catalogue)"
    v=$(median <"$T/$f")
    printf '%-44s %10.0f  %sx\n' "$name" "$v" "$(awk -v a="$v" -v b="$a" 'BEGIN { printf "%.2f", a / b }')"
done

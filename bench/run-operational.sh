#!/usr/bin/env bash
# Build bench_operational in Release and run it; arguments go to the benchmark.
#   bench/run-operational.sh                     # default run (sync=FULL, 7 reps)
#   bench/run-operational.sh --sync normal --reps 9
#   BUILD_DIR=/tmp/bb bench/run-operational.sh --breakdown
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$src/build-bench}"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target bench_operational
exec "$build/bench/bench_operational" "$@"

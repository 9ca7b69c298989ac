#!/usr/bin/env bash
# Build bench_docs in Release and run it; arguments go to the benchmark.
#   bench/run-docs.sh                                  # default run (/work/corpus, ~15 s)
#   bench/run-docs.sh --corpus DIR --reps 7 --gets 50000
#   BUILD_DIR=/tmp/bd bench/run-docs.sh --anchor-mmap 268435456
# The corpus comes from ../shared/bench/make-corpus.sh DIR (see bench/README.md).
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$src/build-bench-docs}"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target bench_docs
exec "$build/bench/docs/bench_docs" "$@"

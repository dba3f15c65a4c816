#!/usr/bin/env bash
# Readers beside writers, on one open repository: queries per second and
# p50/p99 latency of a mixed search-and-get load from 1, 2 and 4 threads,
# idle and while ingest jobs run (bench/load_bench.cpp). The searched
# corpus is bench/peers.sh's 2,000 kernel documentation files; the ingests
# run over its 500 Python documentation pages.
# Usage: bench/concurrency.sh [SECONDS_PER_RUN] (after scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target load_bench dossier-extract >/dev/null
C=bench/out/peers/corpus
if ! grep -qx v2 "$C/.done" 2>/dev/null; then
  echo "building the corpus first (bench/peers.sh's)"
  bench/peers.sh >/dev/null
fi
DOSSIER_EXTRACT_WORKER="$PWD/build/tools/dossier-extract" \
  build/bench/load_bench "$C/text" "$C/html" bench/out/load-work "${1:-10}"
rm -rf bench/out/load-work bench/out/load-work.recovery-key

#!/usr/bin/env bash
# Case links at scale: link quality on CASES generated cases (default
# 5000) whose documents are real texts with planted shared identifiers and
# noise, then the time to add one document to repositories of SMALL and
# LARGE cases (default 1000 and 100000), seeded through Repository.
# Usage: bench/links.sh [CASES] [SMALL] [LARGE] (after scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${1:-5000}"
SMALL="${2:-1000}"
LARGE="${3:-100000}"
cmake --build build --target links_bench dossier-extract >/dev/null
bench/corpus20k.sh
export DOSSIER_EXTRACT_WORKER="$PWD/build/tools/dossier-extract"
OUT=bench/out/links
mkdir -p "$OUT"
echo "== link quality: $CASES cases"
build/bench/links_bench quality "$OUT/quality" "$CASES" bench/out/corpus20k/small
for n in "$SMALL" "$LARGE"; do
  echo "== add one document: $n cases"
  build/bench/links_bench add "$OUT/add$n" "$n" 200
  du -sh "$OUT/add$n" | sed 's/^/repository size: /'
  rm -rf "$OUT/add$n" "$OUT/add$n.recovery-key"
done

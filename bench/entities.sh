#!/usr/bin/env bash
# Entity extraction on real text: precision and recall of each extractor on
# a labelled set (valid values and near misses planted between the words
# of FILES real documents, default 2000), and its speed; then, on the
# peers corpora (bench/peers.sh builds them), what finding entities costs
# next to extracting the text (an upper bound of its share of ingest).
# Usage: bench/entities.sh [FILES] (after scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES="${1:-2000}"
cmake --build build --target entities_bench entity_share >/dev/null
bench/corpus20k.sh
build/bench/entities_bench bench/out/corpus20k/small "$FILES"
for kind in text pdf html mail; do
  dir="bench/out/peers/corpus/$kind"
  [ -d "$dir" ] || { echo "($dir is missing: run bench/peers.sh for the share on $kind)"; continue; }
  printf '%s: ' "$kind"
  build/bench/entity_share "$dir"
done

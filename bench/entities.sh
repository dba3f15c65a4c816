#!/usr/bin/env bash
# Entity extraction on real text: precision and recall of each extractor on
# a labelled set (valid values and near misses planted between the words
# of FILES real documents, default 2000), and its speed; then, on the
# peers corpora (bench/peers.sh builds them), what finding entities costs
# next to extracting the text, and its share of ingest time (the same
# corpus ingested with the workers finding entities and not).
# Usage: bench/entities.sh [FILES] (after scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES="${1:-2000}"
cmake --build build --target entities_bench entity_share ingest_share dossier-extract >/dev/null
bench/corpus20k.sh
build/bench/entities_bench bench/out/corpus20k/small "$FILES"
for kind in text pdf html mail; do
  dir="bench/out/peers/corpus/$kind"
  [ -d "$dir" ] || { echo "($dir is missing: run bench/peers.sh for the share on $kind)"; continue; }
  printf '%s: ' "$kind"
  build/bench/entity_share "$dir"
done
# The share of ingest time: the same corpus ingested with and without
# entities, in turn, five times each.
export DOSSIER_EXTRACT_WORKER="$PWD/build/tools/dossier-extract"
mkdir -p bench/out/ingest-share
for kind in text html mail pdf; do
  dir="bench/out/peers/corpus/$kind"
  [ -d "$dir" ] || continue
  echo "== ingest with and without entities: $kind"
  build/bench/ingest_share "$dir" bench/out/ingest-share 5
done

#!/usr/bin/env bash
# Entity extraction on real text: precision and recall of each extractor on
# a labelled set (valid values and near misses planted between the words
# of FILES real documents, default 2000), and its speed.
# Usage: bench/entities.sh [FILES] (after scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES="${1:-2000}"
cmake --build build --target entities_bench >/dev/null
bench/corpus20k.sh
build/bench/entities_bench bench/out/corpus20k/small "$FILES"

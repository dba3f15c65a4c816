#!/usr/bin/env bash
# The audit trail at scale (bench/audit_bench.cpp): events a second it
# appends from readers, alone and while the mail corpus is ingested; the
# time to verify a trail of EVENTS events (default 1,000,000); the size of
# an inclusion and a consistency proof at that size.
# Usage: bench/audit.sh [EVENTS] (after scripts/setup.sh; the ingest part
# needs bench/peers.sh's mail corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target audit_bench dossier-extract >/dev/null
mkdir -p bench/out/audit-work
MAIL=bench/out/peers/corpus/mail
DOSSIER_EXTRACT_WORKER="$PWD/build/tools/dossier-extract" \
  build/bench/audit_bench bench/out/audit-work "${1:-1000000}" $([ -d "$MAIL" ] && echo "$MAIL")
rm -rf bench/out/audit-work

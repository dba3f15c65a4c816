#!/usr/bin/env bash
# Runs every foundation benchmark in one go on the same machine and corpus,
# printing a results table. Usage: bench/run.sh (after scripts/setup.sh).
#   1. ingest of 10,000 real small text files through `dossier ingest`
#   2. ingest of one 1 GiB text file
#   3. the same bytes through raw crypto_secretstream alone (the floor)
#   4. blind index vs plain Xapian: time and size; search p50/p99 with
#      1, 8 and 32 shards
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_=sudo; $sudo_ apt-get install -y -qq time >/dev/null; }
cmake --build build --target dossier stream_floor index_bench >/dev/null
OUT=bench/out
mkdir -p "$OUT"
bench/corpus.sh "$OUT/corpus"
D=build/tools/dossier
W="$OUT/work"
rm -rf "$W" "$W.recovery-key" && mkdir -p "$(dirname "$W")"
echo "bench-password" > "$OUT/pw"
as() { "$D" "$@" --user bench --password-file "$OUT/pw"; }
"$D" init "$W" --admin bench --no-protect --password-file "$OUT/pw" >/dev/null
as role add "$W" team >/dev/null
CASE=$(as case create "$W" --title bench --roles team --json | sed -n 's/^  "id": "\(.*\)",$/\1/p')

measure() {  # measure LABEL DOCS BYTES command...
  local label=$1 docs=$2 bytes=$3; shift 3
  /usr/bin/time -f "%e %M" -o "$OUT/time" "$@" >/dev/null
  read -r secs kib < "$OUT/time"
  python3 -c "import sys; s=float('$secs'); print(f'$label\t$docs docs\t{$bytes/1e6:.1f} MB\t{s:.2f} s\t{$docs/s:.0f} docs/s\t{$bytes/1e6/s:.1f} MB/s\tpeak {$kib//1024} MiB')"
}
SMALL="$OUT/corpus/small"
NDOCS=$(ls "$SMALL" | wc -l)
SBYTES=$(du -sb "$SMALL" | cut -f1)
BBYTES=$(stat -c %s "$OUT/corpus/big.txt")
echo "== ingest (dossier ingest: read, SHA-256, keyed hash, encrypt, fsync, SQLite, blind index)"
measure "ingest small" "$NDOCS" "$SBYTES" "$D" ingest "$W" --case "$CASE" "$SMALL" --user bench --password-file "$OUT/pw"
measure "ingest 1 GiB" 1 "$BBYTES" "$D" ingest "$W" --case "$CASE" "$OUT/corpus/big.txt" --user bench --password-file "$OUT/pw"
echo "== floor (raw crypto_secretstream on the same files)"
build/bench/stream_floor "$OUT/floor" "@$SMALL" | sed 's/^/small  /'
build/bench/stream_floor "$OUT/floor" "$OUT/corpus/big.txt" | sed 's/^/1 GiB  /'
echo "== blind index vs plain Xapian (same texts), search latency"
build/bench/index_bench "$SMALL" "$OUT/index-work"
rm -rf "$W" "$W.recovery-key"

#!/usr/bin/env bash
# Search for reviewers at scale: N documents (default 100,000) made from
# the 20,000 distinct real documents of bench/http.sh's corpus, each copy
# extended with a varied paragraph (words drawn from other documents, so
# deduplication keeps every one) and given a date spread over 2000-2025;
# ingested once into a Dossier repository and indexed once by omindex.
# Then build/bench/search_bench: Q queries of each kind (word, AND,
# phrase, prefix, field filter, date range) by match-frequency band,
# p50/p95/p99 through Repository (with exact totals, facets and snippets
# of the top 10, and matching alone) against plain Xapian on the omindex
# database in the same run, and a search-term report of 1,000 terms.
# Usage: bench/search.sh [N] [Q] (after scripts/setup.sh; installs
# xapian-omega if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
Q="${2:-1000}"
dpkg-query -W -f='${Status}' xapian-omega 2>/dev/null | grep -q 'install ok installed' ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xapian-omega >/dev/null; }
cmake --build build --target dossier dossier-extract search_bench >/dev/null
SRC=bench/out/corpus20k
bench/corpus20k.sh
W="$PWD/bench/out/search$N"
C="$W/docs"
if [ ! -f "$W/.corpus" ]; then
  rm -rf "$W" && mkdir -p "$C"
  python3 - "$SRC/small" "$C" "$N" <<'PY'
import os, random, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(os.listdir(src))
rng = random.Random(20261201)
vocab = []
for f in files[:2000]:
    try:
        vocab += open(os.path.join(src, f), errors="replace").read().split()[:200]
    except OSError:
        pass
vocab = [w for w in vocab if w.isalpha() and 3 < len(w) < 14] or ["word"]
for i in range(n):
    f = files[i % len(files)]
    base, ext = os.path.splitext(f)
    out = os.path.join(dst, "%03d" % (i // 1000), "%s-%d%s" % (base, i, ext))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    data = open(os.path.join(src, f), "rb").read()
    extra = " ".join(rng.choice(vocab) for _ in range(40))
    note = ("\n<p>%s</p>\n" if ext == ".html" else "\n%s\n") % extra
    with open(out, "wb") as o:
        o.write(data + note.encode())
    t = rng.randint(946684800, 1735689600)  # 2000 .. 2025
    os.utime(out, (t, t))
PY
  touch "$W/.corpus"
fi
D="$PWD/build/tools/dossier"
REPO="$W/repo"
export DOSSIER_PASSWORD_COST=interactive
if [ ! -f "$W/.ingested" ]; then
  rm -rf "$REPO"
  echo "benchmark-password" > "$W/pw"
  "$D" init "$REPO" --admin bench --no-protect --password-file "$W/pw" >/dev/null
  as() { "$D" "$@" --user bench --password-file "$W/pw"; }
  as role add "$REPO" readers >/dev/null
  CASE=$(as case create "$REPO" --title "Search benchmark" --roles readers --json |
         sed -n 's/^  "id": "\(.*\)",$/\1/p')
  echo "ingesting $N documents (once; kept in $W)"
  /usr/bin/time -f "dossier ingest: %e s, max RSS %M KiB" "$D" ingest "$REPO" --case "$CASE" "$C" \
    --user bench --password-file "$W/pw" >/dev/null
  touch "$W/.ingested"
fi
# omindex skips files whose type it has no filter for (reStructuredText,
# YAML, POD, man pages): they are read as plain text, as Dossier reads
# them, so that both index the same 100% of the documents.
if [ ! -f "$W/.omindex-all" ]; then
  rm -rf "$W/omega"
  /usr/bin/time -f "omindex: %e s, max RSS %M KiB" \
    omindex --db "$W/omega" --url / -M rst:text/plain -M yaml:text/plain -M pod:text/plain \
      -G '*.[0-9]:text/plain' -G '*.[0-9]?*:text/plain' "$C" >/dev/null 2>"$W/omindex.log" || true
  touch "$W/.omindex-all"
fi
build/bench/search_bench "$REPO" bench "$W/pw" "$W/omega" "$Q" 1000 | tee "$W/results.txt"

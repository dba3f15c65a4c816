#!/usr/bin/env bash
# Builds the benchmark corpus from real documents nobody here wrote: the
# Linux kernel documentation as Debian ships it (package linux-doc-6.1:
# reStructuredText, plain text and YAML binding descriptions under
# Documentation/, some gzip'd; the html/_sources copies are left out and
# files with identical content are taken once, so deduplication does not
# flatter the figures). Output, in $1 (default
# bench/out/corpus):
#   small/   10,000 text files, one per source document (flat names):
#            kernel docs, then Python's reST sources, then man pages
#            (manpages-dev and manpages, roff) and
#            perl-doc's POD to make up the number
#   big.txt  1 GiB of the same text concatenated (for the large-file run)
set -euo pipefail
OUT="${1:-$(dirname "$0")/out/corpus}"
N="${N_DOCS:-10000}"
if [ -f "$OUT/.done" ]; then exit 0; fi
rm -rf "$OUT" && mkdir -p "$OUT/small" "$OUT/debs"
# EXTRA_DEBS adds packages (bench/http.sh adds translated man pages to
# reach 20,000 distinct documents).
# shellcheck disable=SC2086
(cd "$OUT/debs" && apt-get download linux-doc-6.1 python3.11-doc manpages-dev manpages perl-doc \
   ${EXTRA_DEBS:-} >/dev/null 2>&1 &&
 for d in *.deb; do dpkg-deb -x "$d" x; done)
python3 - "$OUT" "$N" <<'PY'
import gzip, hashlib, os, re, sys
out, n = sys.argv[1], int(sys.argv[2])
roots = [out + "/debs/x/usr/share/doc/linux-doc-6.1/Documentation",
         out + "/debs/x/usr/share/doc/python3.11/html/_sources",
         out + "/debs/x/usr/share/man",
         out + "/debs/x/usr/share/perl"]
# EXTRA_EXT (".html,.htm") takes files of those kinds from the extra
# packages' documentation too.
extra = tuple(e for e in os.environ.get("EXTRA_EXT", "").split(",") if e)
if extra:
    roots.append(out + "/debs/x/usr/share/doc")
seen, k = set(), 0
walk = [w for r in roots for w in sorted(os.walk(r))]
for dirpath, _, names in walk:
    for name in sorted(names):
        base = name[:-3] if name.endswith(".gz") else name
        text = (base.endswith((".rst", ".txt", ".yaml", ".pod")) or
                re.search(r"/man(/[A-Za-z_@.]+)?/man[0-9]", dirpath) is not None or
                (extra and base.endswith(extra) and "/_sources" not in dirpath))
        if not text or k >= n:
            continue
        path = os.path.join(dirpath, name)
        data = gzip.open(path).read() if name.endswith(".gz") else open(path, "rb").read()
        digest = hashlib.sha256(data).digest()
        if not data or digest in seen:
            continue
        seen.add(digest)
        open(f"{out}/small/{k:05d}_{base}", "wb").write(data)
        k += 1
print(f"{k} unique files", file=sys.stderr)
PY
# 1 GiB of real text: the corpus, repeated (BIG=0 leaves it out).
[ "${BIG:-1}" = 0 ] || python3 - "$OUT" <<'PY'
import os, sys
out = sys.argv[1]
files = sorted(os.listdir(out + "/small"))
target = 1 << 30
with open(out + "/big.txt", "wb") as w:
    n = 0
    while n < target:
        for f in files:
            data = open(out + "/small/" + f, "rb").read()
            data = data[: target - n]
            w.write(data); n += len(data)
            if n >= target: break
PY
rm -rf "$OUT/debs"
touch "$OUT/.done"
echo "corpus: $(ls "$OUT/small" | wc -l) files, $(du -sh "$OUT/small" | cut -f1)"
